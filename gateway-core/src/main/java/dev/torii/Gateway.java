package dev.torii;

import dev.torii.dns.DnsCache;
import dev.torii.internal.ConnectionLimits;
import dev.torii.internal.Engine;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.metrics.GatewayStatsMetrics;
import dev.torii.metrics.GuardMetrics;
import dev.torii.metrics.RequestMetrics;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A running reverse proxy: listeners, event loops and the current {@link RoutingTable}.
 *
 * <pre>
 * client ─▶ listener ─▶ event loop L (every step runs on L; nothing blocks L)
 *   HTTP/1.1 codec ─▶ framing checks ─▶ Exchange
 *   REQUEST hooks ─▶ RoutingTable.match ─▶ route REQUEST hooks ─▶ UPSTREAM hooks   (any may respond)
 *   load balancer ─▶ connection pool of L ─▶ request head + body streamed upstream (backpressure both ways)
 *   response head ─▶ RESPONSE hooks ─▶ body relayed to the client ─▶ connection back to the pool ─▶ LOG hooks
 * </pre>
 *
 * <p>Build with {@link #builder()}, then {@link #start()}. {@link #routingTable(RoutingTable)} swaps routes and
 * upstreams atomically; exchanges in flight finish on the table they started with. {@link #close()} drains: every
 * request already received is answered (HTTP/1.1 with {@code Connection: close}, HTTP/2 after a two-step GOAWAY),
 * no connection is reset, the listeners stop accepting once their queues are empty, and whatever runs at
 * {@link Limits#shutdownTimeout()} is closed.
 *
 * <p>Thread-safe.
 */
public final class Gateway implements AutoCloseable {
    private final Engine engine;
    private final MaintenanceMode maintenance;
    /** The endpoint health series, when a registry was given: a table swap may bring new endpoints. */
    private final dev.torii.metrics.UpstreamHealthMetrics healthMetrics;
    /** The hooks the gateway puts before the added ones (maintenance, request metrics); {@link #hooks} keeps them. */
    private final List<Hook> ownHooks;
    /** The upstream pool and connect series, when a registry was given: a table swap may bring new upstreams. */
    private final dev.torii.metrics.UpstreamPoolMetrics poolMetrics;
    /** The connection-count guards, whose settings {@link #limits(Limits)} and the listener swaps change. */
    private final ConnectionLimits connectionLimits;

    private Gateway(Builder b) {
        this.maintenance = b.maintenance;
        this.ownHooks = ownHooks(b);
        this.engine = new Engine(
                List.copyOf(b.listeners),
                b.routingTable,
                concat(ownHooks, b.hooks),
                b.limits,
                b.http2Limits,
                b.forwarding,
                b.errorResponder,
                b.ioThreads,
                b.dnsCache);
        engine.tcpListeners(b.tcpListeners);
        List<ConnectionGuard> guards = new ArrayList<>(b.guards);
        // Always installed, so that a reload may set limits the start did not have.
        this.connectionLimits = new ConnectionLimits(b.limits, b.listeners, b.tcpListeners);
        guards.addAll(connectionLimits.guards());
        engine.connectionGuards(guards);
        if (b.meterRegistry != null) {
            new GatewayStatsMetrics(engine::stats, b.maintenance).bindTo(b.meterRegistry);
            GuardMetrics.connectionGuards(guards).bindTo(b.meterRegistry);
            GuardMetrics.slowRequestBodies(engine::slowRequestBodies).bindTo(b.meterRegistry);
            healthMetrics = new dev.torii.metrics.UpstreamHealthMetrics(engine::upstreamHealth);
            healthMetrics.bindTo(b.meterRegistry);
            poolMetrics = new dev.torii.metrics.UpstreamPoolMetrics(
                    () -> engine.routingTable().upstreams().keySet(), engine::upstreamPools);
            poolMetrics.bindTo(b.meterRegistry);
        } else {
            healthMetrics = null;
            poolMetrics = null;
        }
    }

    private static List<Hook> ownHooks(Builder b) {
        var own = new ArrayList<Hook>(2);
        if (b.maintenance != null) {
            own.add(b.maintenance.hook(b.errorResponder));
        }
        if (b.meterRegistry != null) {
            own.add(new RequestMetrics(b.meterRegistry));
            own.add(new dev.torii.metrics.TcpMetrics(b.meterRegistry));
        }
        return List.copyOf(own);
    }

    private static List<Hook> concat(List<Hook> first, List<Hook> then) {
        var all = new ArrayList<Hook>(first.size() + then.size());
        all.addAll(first);
        all.addAll(then);
        return List.copyOf(all);
    }

    /**
     * Replaces the global hooks added with {@link Builder#hook} by {@code hooks} (a configuration reload): the
     * gateway's own hooks (maintenance, request metrics) stay first. Exchanges whose head is decoded from now on run
     * the new list, as do TCP connections accepted from now on; exchanges in flight finish their REQUEST, UPSTREAM and
     * RESPONSE phases with the list they started with. Any thread.
     */
    public void hooks(List<Hook> hooks) {
        engine.hooks(concat(ownHooks, List.copyOf(hooks)));
    }

    /** A builder with no listeners, an empty routing table and default limits. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Checks the certificate and key files of every HTTPS listener now and loads the ones that changed (the gateway
     * also does this every {@link dev.torii.tls.ServerTls#reloadInterval()}); a broken file is logged and the
     * previous certificate stays in use. Returns how many listeners got new certificates.
     */
    public int reloadCertificates() {
        return engine.reloadCertificates();
    }

    /**
     * Binds every listener and starts serving. Returns once all are bound.
     *
     * @throws java.io.UncheckedIOException when a listener cannot be bound (the message names it and its address);
     *     nothing stays bound then
     */
    public Gateway start() {
        engine.start();
        if (maintenance != null) {
            maintenance.start();
        }
        return this;
    }

    /** The address listener {@code name} is bound to (useful with port 0). */
    public InetSocketAddress address(String listenerName) {
        return engine.boundAddress(listenerName);
    }

    /** The routing table in use now. */
    public RoutingTable routingTable() {
        return engine.routingTable();
    }

    /** Swaps in {@code table} for every new exchange; exchanges in flight keep the table they started with. */
    public void routingTable(RoutingTable table) {
        engine.routingTable(Objects.requireNonNull(table, "table"));
        if (healthMetrics != null) {
            healthMetrics.refresh();
        }
        if (poolMetrics != null) {
            poolMetrics.refresh();
        }
    }

    /**
     * The connection pools (in use, idle) and connects (ok, failed by reason) of every upstream that has had a
     * connection or a connect, summed over the event loops, sorted by upstream name. A snapshot; thread-safe.
     */
    public java.util.List<dev.torii.upstream.UpstreamPoolStats> upstreamPools() {
        return engine.upstreamPools();
    }

    /**
     * The health of every endpoint of the current routing table's upstreams (active checks and outlier detection),
     * sorted by upstream name, then in each upstream's endpoint order. A snapshot; thread-safe.
     */
    public java.util.List<dev.torii.upstream.EndpointStatus> upstreamHealth() {
        return engine.upstreamHealth();
    }

    /**
     * Applies {@code listeners} as the HTTP and HTTPS listeners while running (a configuration reload): unchanged
     * listeners keep their sockets and connections, a listener whose address stays takes its new TLS and options for
     * new connections, new addresses are bound, removed listeners drain (their connections answer what they received
     * and close without a reset; see {@link #shutdown}). New certificates load and new addresses bind before anything
     * changes; a failure changes nothing. TCP listeners stay as they are. Blocks while binding; not on an event loop.
     *
     * @throws java.io.UncheckedIOException when a new address cannot be bound (the message names the listener)
     * @throws IllegalArgumentException when a certificate cannot be loaded or a name repeats
     */
    public void listeners(List<Listener> listeners) {
        listeners(listeners, engine.tcpListenerList(), () -> {});
    }

    /**
     * Applies {@code http} and {@code tcp} as the listeners while running (a configuration reload), as
     * {@link #listeners(List)} does for HTTP ones; a TCP listener whose address stays keeps its socket and its open
     * connections and takes its new upstream, options and hooks for the connections it accepts from now on, and a
     * removed one stops accepting while its open connections relay on until {@link Limits#shutdownTimeout()} from now.
     *
     * <p>New certificates load and new addresses bind first (accepting nothing yet); then {@code swap} runs (the
     * caller's routing table, hooks and other swaps: the table must have every upstream a TCP listener of {@code tcp}
     * forwards to); then the new addresses accept and the removed listeners retire. When a bind or {@code swap} fails,
     * the sockets bound for this call close again and the listeners did not change. Blocks while binding; not on an
     * event loop.
     *
     * @throws java.io.UncheckedIOException when a new address cannot be bound (the message names the listener)
     * @throws IllegalArgumentException when a certificate cannot be loaded or a name repeats
     */
    public void listeners(List<Listener> http, List<TcpListener> tcp, Runnable swap) {
        Objects.requireNonNull(swap, "swap");
        List<Listener> nextHttp = List.copyOf(http);
        List<TcpListener> nextTcp = List.copyOf(tcp);
        engine.listeners(nextHttp, nextTcp, () -> {
            swap.run();
            // The listeners' own connection limits, before the new sockets accept.
            connectionLimits.apply(engine.limits(), nextHttp, nextTcp);
        });
    }

    /**
     * Swaps in {@code next} as the HTTP/2 limits of client connections made from now on (a configuration reload); open
     * connections keep theirs. Any thread.
     */
    public void http2Limits(Http2Limits next) {
        engine.http2Limits(Objects.requireNonNull(next, "next"));
    }

    /**
     * Swaps in {@code next} (trusted proxies for {@code X-Forwarded-For}, {@code Via}, {@code X-Forwarded-*}) for the
     * requests forwarded from now on (a configuration reload). Any thread.
     */
    public void forwarding(Forwarding next) {
        engine.forwarding(Objects.requireNonNull(next, "next"));
    }

    /** The limits in use now. */
    public Limits limits() {
        return engine.limits();
    }

    /**
     * Applies {@code next} while running (a configuration reload): timeouts, sizes, {@code maxConnections},
     * {@code maxRequestsPerConnection}, path normalization and the other per-request checks take the new values for
     * what happens from now on (a request already past a check is not checked again). {@code maxConnectionsPerClient}
     * and {@code newConnectionsPerClient} apply to the connections accepted from now on, the counts of open connections
     * kept (a changed rate starts with full buckets; a per-client count a reload turns on counts the connections
     * accepted from then on). Any thread; not concurrently with {@link #listeners}.
     *
     * @return the names of the settings {@code next} changes that keep running as built: none any more (kept for
     *     callers that name them)
     */
    public List<String> limits(Limits next) {
        Objects.requireNonNull(next, "next");
        engine.limits(next);
        connectionLimits.apply(next, engine.httpListenerList(), engine.tcpListenerList());
        return List.of();
    }

    /** Counters of what the gateway is doing now. */
    public GatewayStats stats() {
        return engine.stats();
    }

    /**
     * Drains and stops: every open client connection answers what it already received and closes without a reset
     * (HTTP/1.1: {@code Connection: close} on the response in progress or the one to a request still in the socket
     * buffer, then a lingering close; HTTP/2: GOAWAY with last stream id 2^31-1, a second later GOAWAY with the last
     * stream opened, then close once those streams end; TCP and tunnels run on). The listeners take what the kernel
     * already queued and close once their accept queue stays empty. At {@code deadline} whatever is left is closed;
     * then idle upstream connections and the event loops. The future completes when everything is closed. Any thread.
     */
    public CompletableFuture<Void> shutdown(Duration deadline) {
        if (maintenance != null) {
            maintenance.close();
        }
        return engine.shutdown(deadline);
    }

    /** The maintenance switch the gateway was built with, or {@code null}. */
    public MaintenanceMode maintenance() {
        return maintenance;
    }

    /** {@link #shutdown(Duration)} with {@link Limits#shutdownTimeout()}, waiting for it to finish. */
    @Override
    public void close() {
        shutdown(engine.limits().shutdownTimeout()).join();
    }

    /** Builds a {@link Gateway}; {@link #build()} validates the whole combination. Not thread-safe. */
    public static final class Builder {
        private final List<Listener> listeners = new ArrayList<>();
        private final List<TcpListener> tcpListeners = new ArrayList<>();
        private RoutingTable routingTable = RoutingTable.empty();
        private final List<Hook> hooks = new ArrayList<>();
        private final List<ConnectionGuard> guards = new ArrayList<>();
        private Limits limits = Limits.defaults();
        private Http2Limits http2Limits = Http2Limits.defaults();
        private Forwarding forwarding = Forwarding.defaults();
        private ErrorResponder errorResponder = ErrorResponder.plainText();
        private int ioThreads = Runtime.getRuntime().availableProcessors();
        private DnsCache dnsCache;
        private MaintenanceMode maintenance;
        private MeterRegistry meterRegistry;

        private Builder() {}

        /**
         * Publishes the gateway's metrics in {@code registry} (Micrometer: the application's own registry, whatever it
         * exports to): request series fed by each exchange's {@link ExchangeLog} ({@link RequestMetrics}) and the
         * {@link GatewayStats} counters ({@link GatewayStatsMetrics}). Without one, no meter is kept. See
         * {@link dev.torii.metrics} for why Micrometer.
         */
        public Builder meterRegistry(MeterRegistry registry) {
            this.meterRegistry = Objects.requireNonNull(registry, "registry");
            return this;
        }

        /**
         * Adds the maintenance switch: its hook answers requests while it is on, before every other hook (see
         * {@link MaintenanceMode#hook}); the gateway starts its flag-file poller on {@link #start()} and stops it on
         * shutdown.
         */
        public Builder maintenance(MaintenanceMode maintenance) {
            this.maintenance = Objects.requireNonNull(maintenance, "maintenance");
            return this;
        }

        /** Adds a listener; names must be unique. */
        public Builder listener(Listener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /**
         * Adds a TCP listener (raw bytes to an upstream of the routing table; see {@link TcpListener}); names must be
         * unique among all listeners.
         */
        public Builder listener(TcpListener listener) {
            tcpListeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        public Builder routingTable(RoutingTable routingTable) {
            this.routingTable = Objects.requireNonNull(routingTable, "routingTable");
            return this;
        }

        /**
         * Adds a guard every accepted connection of every http, https and tcp listener passes, in the order added,
         * before TLS or HTTP parsing; a refused connection is closed and counted in
         * {@link GatewayStats#guardedConnections()}.
         */
        public Builder connectionGuard(ConnectionGuard guard) {
            guards.add(Objects.requireNonNull(guard, "guard"));
            return this;
        }

        /** Adds a global hook; global hooks run before route hooks, in the order added. */
        public Builder hook(Hook hook) {
            hooks.add(Objects.requireNonNull(hook, "hook"));
            return this;
        }

        public Builder limits(Limits limits) {
            this.limits = Objects.requireNonNull(limits, "limits");
            return this;
        }

        /** What HTTP/2 clients may do per connection and the flood limits; {@link Http2Limits#defaults()} if unset. */
        public Builder http2Limits(Http2Limits http2Limits) {
            this.http2Limits = Objects.requireNonNull(http2Limits, "http2Limits");
            return this;
        }

        public Builder forwarding(Forwarding forwarding) {
            this.forwarding = Objects.requireNonNull(forwarding, "forwarding");
            return this;
        }

        /** Replaces how errors are rendered; see {@link ErrorResponder#plainText()}. */
        public Builder errorResponder(ErrorResponder errorResponder) {
            this.errorResponder = Objects.requireNonNull(errorResponder, "errorResponder");
            return this;
        }

        /**
         * Resolves upstream endpoints written as host names through {@code cache} (TTL-aware, coalesced, served
         * stale when DNS fails); without one, names are looked up with the JVM's resolver off the event loops. The
         * gateway does not close the cache: its owner does, after the gateway.
         */
        public Builder dnsCache(DnsCache cache) {
            this.dnsCache = Objects.requireNonNull(cache, "cache");
            return this;
        }

        /** Event-loop threads (default: available processors); each owns its connections and pools. */
        public Builder ioThreads(int ioThreads) {
            this.ioThreads = ioThreads;
            return this;
        }

        public Gateway build() {
            if (listeners.isEmpty() && tcpListeners.isEmpty()) {
                throw new IllegalArgumentException("listeners: [] (expected: at least one)");
            }
            var names = new HashSet<String>();
            for (Listener l : listeners) {
                if (!names.add(l.name())) {
                    throw new IllegalArgumentException(
                            "listener '" + l.name() + "': defined twice (expected: unique names)");
                }
            }
            for (TcpListener l : tcpListeners) {
                if (!names.add(l.name())) {
                    throw new IllegalArgumentException(
                            "listener '" + l.name() + "': defined twice (expected: unique names)");
                }
                if (routingTable.upstream(l.upstream()) == null) {
                    throw new IllegalArgumentException("listener '" + l.name() + "' upstream: '" + l.upstream()
                            + "' (expected one of the routing table's upstreams: "
                            + String.join(", ", routingTable.upstreams().keySet()) + ")");
                }
            }
            if (ioThreads < 1) {
                throw new IllegalArgumentException("ioThreads: " + ioThreads + " (expected: > 0)");
            }
            return new Gateway(this);
        }
    }
}
