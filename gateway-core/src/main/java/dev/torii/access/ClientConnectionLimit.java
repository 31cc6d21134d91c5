package dev.torii.access;

import dev.torii.ConnectionGuard;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * At most {@code max} connections open at once per client IP address, over every http, https and tcp listener
 * (nginx's {@code limit_conn} keyed by {@code $binary_remote_addr}); one more is closed at accept. Memory is bounded
 * by the open connections: an address's entry goes when its last connection closes.
 *
 * <p>Thread-safe (the counts are updated from every event loop).
 */
public final class ClientConnectionLimit implements ConnectionGuard {
    private volatile int max;
    private final ConcurrentHashMap<InetAddress, Integer> open = new ConcurrentHashMap<>();
    private final LongAdder refused = new LongAdder();

    /** At most {@code max} (> 0) connections per client address. */
    public ClientConnectionLimit(int max) {
        if (max <= 0) {
            throw new IllegalArgumentException("maxConnectionsPerClient: " + max + " (expected: > 0)");
        }
        this.max = max;
    }

    /**
     * Sets the most connections per address for the accepts from now on (a configuration reload); the counts of open
     * connections stay, so an address over a lowered limit gets no new connection until enough of its own closed.
     */
    public void max(int max) {
        if (max <= 0) {
            throw new IllegalArgumentException("maxConnectionsPerClient: " + max + " (expected: > 0)");
        }
        this.max = max;
    }

    @Override
    public boolean admit(String listener, InetSocketAddress client) {
        boolean[] admitted = {false};
        open.compute(client.getAddress(), (a, n) -> {
            int now = n == null ? 0 : n;
            if (now >= max) {
                return n;
            }
            admitted[0] = true;
            return now + 1;
        });
        if (!admitted[0]) {
            refused.increment();
        }
        return admitted[0];
    }

    @Override
    public void closed(String listener, InetSocketAddress client) {
        open.computeIfPresent(client.getAddress(), (a, n) -> n <= 1 ? null : n - 1);
    }

    @Override
    public String reason() {
        return "max_connections_per_client";
    }

    /** Connections refused since start because their address had {@code max} open. */
    @Override
    public long refused() {
        return refused.sum();
    }

    /** Client addresses with a connection open now. */
    public int clients() {
        return open.size();
    }
}
