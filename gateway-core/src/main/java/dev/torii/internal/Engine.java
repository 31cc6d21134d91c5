package dev.torii.internal;

import dev.torii.ErrorResponder;
import dev.torii.Forwarding;
import dev.torii.GatewayStats;
import dev.torii.Hook;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.RoutingTable;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The engine behind {@link dev.torii.Gateway}. Work in progress: being written now. */
public final class Engine {
    private final Limits limits;
    private volatile RoutingTable table;

    public Engine(
            List<Listener> listeners,
            RoutingTable table,
            List<Hook> hooks,
            Limits limits,
            Forwarding forwarding,
            ErrorResponder errorResponder,
            int ioThreads) {
        this.table = table;
        this.limits = limits;
    }

    public void start() {}

    public InetSocketAddress boundAddress(String listenerName) {
        return null;
    }

    public RoutingTable routingTable() {
        return table;
    }

    public void routingTable(RoutingTable table) {
        this.table = table;
    }

    public GatewayStats stats() {
        return new GatewayStats(0, 0, 0, 0, 0);
    }

    public CompletableFuture<Void> shutdown(Duration deadline) {
        return CompletableFuture.completedFuture(null);
    }

    public Limits limits() {
        return limits;
    }
}
