package dev.torii.internal;

import dev.torii.ConnectionGuard;
import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.Forwarding;
import dev.torii.GatewayStats;
import dev.torii.Hook;
import dev.torii.Http2Limits;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.ProxyError;
import dev.torii.dns.DnsCache;
import dev.torii.internal.http1.StrictServerCodec;
import dev.torii.internal.http2.FloodLog;
import dev.torii.internal.http2.H2cSupport;
import dev.torii.internal.http2.Http2Connections;
import dev.torii.internal.tcp.TcpProxyHandler;
import dev.torii.internal.tls.TlsTermination;
import dev.torii.internal.upstream.ConnectionPool;
import dev.torii.internal.upstream.EndpointResolver;
import dev.torii.internal.upstream.HealthChecks;
import dev.torii.internal.upstream.UpstreamState;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.upstream.Upstream;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine behind {@link dev.torii.Gateway}: event loops, the admission of each accepted connection and its pipeline
 * (the initializers), the current routing snapshot, per-loop connection pools, counters and graceful shutdown. The
 * listening sockets' lifecycle (bind, the reload's swap, retire, TLS terminations) is {@link Listeners}'s. Thread-safe;
 * the per-exchange work happens in {@link ProxyHandler} on one event loop.
 */
public final class Engine {
    private static final Logger log = LoggerFactory.getLogger(Engine.class);

    /**
     * User event telling a client connection to finish its exchange and close: HTTP/1.1 answers what it already
     * received with {@code Connection: close}, HTTP/2 closes after its last stream (the GOAWAY frames went out
     * before, see {@link #drain(Channel)}), TCP and tunnels run until the shutdown deadline.
     */
    public static final Object DRAIN = new Object();

    /**
     * How long an HTTP/2 connection keeps taking new streams after the first GOAWAY of a drain (last stream id
     * 2^31-1: "stop opening streams"), before the second one names the last stream it will serve. Streams the client
     * opened before it read the first GOAWAY are still served (the two-step shutdown of RFC 9113 section 6.8, as
     * Envoy and Go's server do it).
     */
    static final long GOAWAY_GRACE_MILLIS = 1000;

    /** Set on an HTTP/2 connection once its drain began (its first GOAWAY went out). */
    private static final io.netty.util.AttributeKey<Boolean> GOAWAY_SENT =
            io.netty.util.AttributeKey.valueOf("torii.goaway");

    /** A routing table with the runtime state of its upstreams. Immutable (the states are thread-safe). */
    public record Snapshot(RoutingTable table, Map<String, UpstreamState> states) {
        /** The runtime state of the upstream named {@code name}, or null when the table has none. */
        public UpstreamState upstream(String name) {
            return states.get(name);
        }
    }

    /** The listening sockets: bind, swap on reload, retire, and their TLS terminations. */
    private final Listeners listeners;
    /** The name of the listener that accepted a client connection, as {@link dev.torii.Exchange#listener()} says. */
    static final io.netty.util.AttributeKey<String> LISTENER = io.netty.util.AttributeKey.valueOf("torii.listener");

    /**
     * The global hooks. Volatile: a configuration reload swaps in a new list ({@link #hooks(List)}); an exchange reads
     * it once, when its head is decoded, and keeps that list for its REQUEST, UPSTREAM and RESPONSE phases.
     */
    private volatile List<Hook> hooks;

    /**
     * Volatile: a configuration reload swaps in new limits ({@link #limits(Limits)}); each check reads the current
     * value, so a new value applies to the next request head, body chunk or timer armed (connection-count guards built
     * from it by {@code Gateway} stay as built).
     */
    private volatile Limits limits;

    /** The global hooks that want to hear of each upstream attempt; swapped with {@link #hooks}. */
    private volatile List<dev.torii.UpstreamAttemptListener> attemptListeners;

    /** Volatile: a reload swaps it ({@link #http2Limits(Http2Limits)}); read when a connection's HTTP/2 codec is made. */
    private volatile Http2Limits http2Limits;

    /**
     * The forwarding settings with what is derived from them once (the {@code Via} values, the parsed trusted proxies),
     * swapped whole by a reload so an exchange never sees parts of two.
     */
    private record Forwarded(Forwarding settings, String via11, String via2, List<Cidr> trustedProxies) {
        static Forwarded of(Forwarding f) {
            return new Forwarded(f, "1.1 " + f.viaName(), "2 " + f.viaName(), Cidr.parseAll(f.trustedProxies()));
        }
    }

    private volatile Forwarded forwarded;
    private final ErrorResponder errorResponder;
    private final int ioThreads;
    private final Transport transport = Transport.best();
    private final EndpointResolver resolver;
    private final FastThreadLocal<ConnectionPool> pools = new FastThreadLocal<>();
    private final List<ConnectionPool> allPools = new CopyOnWriteArrayList<>();
    private final ChannelGroup clients = new DefaultChannelGroup("torii-clients", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger openConnections = new AtomicInteger();
    private final AtomicInteger activeExchanges = new AtomicInteger();
    private final LongAdder totalExchanges = new LongAdder();
    private final LongAdder rejectedConnections = new LongAdder();
    private final LongAdder upstreamConnectionsOpened = new LongAdder();
    private final LongAdder upstreamConnectsFailed = new LongAdder();
    private final dev.torii.internal.upstream.UpstreamCounters upstreamCounters =
            new dev.torii.internal.upstream.UpstreamCounters();
    private final LongAdder guardedConnections = new LongAdder();
    private volatile List<ConnectionGuard> guards = List.of();
    private final LongAdder bareErrors = new LongAdder();
    private final LongAdder malformedHttp2 = new LongAdder();
    private final LongAdder http2Floods = new LongAdder();
    private final LongAdder slowRequestBodies = new LongAdder();
    private final LongAdder[] http2FloodsByKind = newAdders(Http2Limits.Flood.values().length);
    private final FloodLog floodLog = new FloodLog(FloodLog.DEFAULT_INTERVAL, FloodLog.DEFAULT_MAX_CLIENTS);
    private final LongAdder maxRequestsReached = new LongAdder();
    private volatile boolean draining;
    private final AtomicInteger tcpConnections = new AtomicInteger();
    private final LongAdder tcpConnectionsTotal = new LongAdder();
    private final LongAdder tcpConnectionsRejected = new LongAdder();
    /**
     * TCP listeners run on event loops of their own, io_uring (else NIO) when the HTTP ones use epoll: Netty 4.2.18's
     * epoll transport drops a channel from the epoll set when its interest set becomes empty, which a half-closed
     * connection with reads off reaches, and then fails the next wait for writability (epoll_ctl MOD: ENOENT), losing
     * the bytes queued for a slow client. Neither has such state; see {@link Transport#forTcp(Transport)}.
     */
    private final Transport tcpTransport = Transport.forTcp(transport);

    /** The active health checks of the current snapshot's upstreams; from {@link #start()} on. */
    private HealthChecks healthChecks;

    private volatile Snapshot snapshot;
    private EventLoopGroup group;
    private CompletableFuture<Void> shutdown;

    public Engine(
            List<Listener> listeners,
            RoutingTable table,
            List<Hook> hooks,
            Limits limits,
            Http2Limits http2Limits,
            Forwarding forwarding,
            ErrorResponder errorResponder,
            int ioThreads,
            DnsCache dnsCache) {
        this.resolver = new EndpointResolver(dnsCache);
        this.hooks = hooks;
        this.attemptListeners = attemptListenersOf(hooks);
        this.limits = limits;
        this.http2Limits = http2Limits;
        this.forwarded = Forwarded.of(forwarding);
        this.errorResponder = errorResponder;
        this.ioThreads = ioThreads;
        this.snapshot = snapshotOf(table, Map.of());
        this.listeners = new Listeners(
                this,
                listeners,
                limits,
                transport,
                tcpTransport,
                ioThreads,
                ClientInitializer::new,
                TcpInitializer::new);
    }

    private static List<dev.torii.UpstreamAttemptListener> attemptListenersOf(List<Hook> hooks) {
        return hooks.stream()
                .filter(h -> h instanceof dev.torii.UpstreamAttemptListener)
                .map(h -> (dev.torii.UpstreamAttemptListener) h)
                .toList();
    }

    private static Snapshot snapshotOf(RoutingTable table, Map<String, UpstreamState> previous) {
        var states = new HashMap<String, UpstreamState>();
        for (Upstream u : table.upstreams().values()) {
            UpstreamState old = previous.get(u.name());
            states.put(u.name(), old != null && old.upstream.equals(u) ? old : new UpstreamState(u, old));
        }
        return new Snapshot(table, Map.copyOf(states));
    }

    /** The HTTP and HTTPS listeners now (the last reload's). */
    public List<Listener> httpListenerList() {
        return listeners.http();
    }

    /** The TCP listeners now (the last reload's). */
    public List<TcpListener> tcpListenerList() {
        return listeners.tcp();
    }

    /** Sets the TCP listeners to bind on {@link #start()} (after the HTTP ones). */
    public synchronized void tcpListeners(List<TcpListener> tcpListeners) {
        listeners.tcp(tcpListeners);
    }

    public synchronized void start() {
        if (group != null) {
            throw new IllegalStateException("gateway already started");
        }
        // Certificates first: a bad file fails the start before anything is bound.
        listeners.loadCertificates();
        group = new MultiThreadIoEventLoopGroup(
                ioThreads, new DefaultThreadFactory("torii-io", true), transport.ioHandlerFactory());
        try {
            listeners.start(group);
            healthChecks = new HealthChecks(group, transport.channel(), resolver);
            healthChecks.update(snapshot.states().values());
        } catch (RuntimeException e) {
            listeners.abort();
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            resolver.close();
            throw e;
        }
    }

    /**
     * Applies {@code nextHttp} and {@code nextTcp} as the listeners (a reload). A listener whose name, protocol and
     * address stay keeps its socket and its connections, and takes its new settings (TLS, options, a TCP listener's
     * upstream and hooks) for the connections it accepts from now on; a new listener, or one whose address changed, is
     * bound; a removed one (or the old socket of a moved one) drains like a shutdown does, for that listener only (a
     * TCP listener's connections run on until {@link Limits#shutdownTimeout()} from now, then close).
     *
     * <p>In order: certificates load and new addresses bind (not accepting yet), then {@code swap} runs (the caller's
     * routing table and hooks, so a new TCP listener finds the upstream it forwards to), then the new sockets accept and
     * the removed ones retire. When a bind or {@code swap} fails, every socket bound for this call is closed again and
     * the listeners did not change.
     *
     * @throws UncheckedIOException when a new address cannot be bound (the message names the listener)
     * @throws IllegalArgumentException when a certificate cannot be loaded, or a name repeats
     */
    public synchronized void listeners(List<Listener> nextHttp, List<TcpListener> nextTcp, Runnable swap) {
        if (group == null || draining) {
            throw new IllegalStateException("listeners: the gateway is not running");
        }
        listeners.swap(nextHttp, nextTcp, swap);
    }

    /** The open client connections (for the listeners' retirement: a removed listener's connections drain). */
    ChannelGroup clients() {
        return clients;
    }

    /** Whether client connection {@code connection} must drain: the gateway or its listener is draining. */
    public boolean draining(Channel connection) {
        Channel server = connection == null ? null : connection.parent();
        return draining || Listeners.retired(server);
    }

    /** Reloads the certificates of every HTTPS listener whose files changed; returns how many listeners reloaded. */
    public int reloadCertificates() {
        return listeners.reloadCertificates();
    }

    /** The guards every accepted connection passes, in order (set before {@link #start}). */
    public void connectionGuards(List<ConnectionGuard> guards) {
        this.guards = List.copyOf(guards);
    }

    /**
     * Counts an accepted connection against {@link Limits#maxConnections()}, passes it through the connection guards
     * and tracks it for shutdown; a refused one is closed at once and counted (rejected or guarded).
     */
    private boolean admit(Channel ch, String listener) {
        // While draining, the listeners still take what the kernel queued (see ListenerDrain): those connections
        // are served and drained like the ones open before, never reset.
        if (openConnections.incrementAndGet() > limits.maxConnections()) {
            openConnections.decrementAndGet();
            rejectedConnections.increment();
            ch.close();
            return false;
        }
        ch.closeFuture().addListener(f -> openConnections.decrementAndGet());
        if (!guards.isEmpty() && ch.remoteAddress() instanceof InetSocketAddress client) {
            for (int i = 0; i < guards.size(); i++) {
                ConnectionGuard g = guards.get(i);
                if (!g.admit(listener, client)) {
                    // The guards that admitted it before this one are told it closed, so their counts stay paired.
                    for (int j = 0; j < i; j++) {
                        guards.get(j).closed(listener, client);
                    }
                    guardedConnections.increment();
                    ch.close();
                    return false;
                }
            }
            List<ConnectionGuard> admitted = guards;
            ch.closeFuture().addListener(f -> {
                for (ConnectionGuard g : admitted) {
                    g.closed(listener, client);
                }
            });
        }
        clients.add(ch);
        if (draining) {
            log.debug("connection {} accepted while draining", ch.remoteAddress());
        }
        return true;
    }

    /** A listener's settings with its PROXY-protocol trust, parsed once per listener (not per accept). */
    private record Accepting<L>(L listener, dev.torii.internal.proxyprotocol.ProxyProtocolHandler.Trust proxyTrust) {}

    /**
     * Sets up each accepted connection of a TCP listener, with the listener's settings of the moment: a reload that
     * keeps the listener's address hands it new ones ({@link #use}) for the connections accepted from then on.
     */
    private final class TcpInitializer extends Listeners.Initializer<TcpListener> {
        private volatile Accepting<TcpListener> current;

        TcpInitializer(TcpListener listener) {
            use(listener);
        }

        @Override
        void use(TcpListener listener) {
            current = new Accepting<>(
                    listener,
                    dev.torii.internal.proxyprotocol.ProxyProtocolHandler.Trust.of(
                            listener.options().proxyProtocol()));
        }

        @Override
        protected void initChannel(Channel ch) {
            Accepting<TcpListener> now = current;
            TcpListener listener = now.listener();
            if (!admit(ch, listener.name())) {
                return;
            }
            // The handler keeps the idle timeout itself (see TcpProxyHandler#idleCheck).
            ch.pipeline().addLast("tcp", new TcpProxyHandler(Engine.this, listener, now.proxyTrust()));
        }
    }

    /**
     * Sets up each accepted client connection of one listener, with the listener's settings of the moment: a reload
     * that keeps the listener's address hands it new ones ({@link #use}) for the connections accepted from then on.
     */
    private final class ClientInitializer extends Listeners.Initializer<Listener> {
        private volatile Accepting<Listener> current;

        ClientInitializer(Listener listener) {
            use(listener);
        }

        @Override
        void use(Listener listener) {
            current = new Accepting<>(
                    listener,
                    dev.torii.internal.proxyprotocol.ProxyProtocolHandler.Trust.of(
                            listener.options().proxyProtocol()));
        }

        @Override
        protected void initChannel(Channel ch) {
            Accepting<Listener> now = current;
            Listener listener = now.listener();
            var proxyTrust = now.proxyTrust();
            if (!admit(ch, listener.name())) {
                return;
            }
            ch.attr(LISTENER).set(listener.name());
            ProxyHandler.rememberListenerOptions(ch, listener.options());
            TlsTermination termination = listeners.tls(listener.name());
            if (termination == null) {
                // Clear text: HTTP/1.1, or h2c by prior knowledge or upgrade.
                ch.pipeline().addLast("detect", new H2cSupport.PrefaceDetector(Engine.this));
            } else {
                // The handshake and ALPN need reads; the chosen protocol's pipeline takes over reading after them.
                ch.config().setAutoRead(true);
                ch.pipeline()
                        .addLast("tls", new SniHandler(termination) {
                            @Override
                            protected void replaceHandler(
                                    ChannelHandlerContext ctx, String hostname, SslContext sslContext)
                                    throws Exception {
                                // Kept as sent: the session's SNIHostName refuses names like bad_name or a.test:443.
                                ProxyHandler.rememberServerName(ctx.channel(), hostname);
                                super.replaceHandler(ctx, hostname, sslContext);
                            }
                        })
                        .addLast("alpn", new AlpnHandler());
            }
            // A trusted balancer's PROXY header precedes TLS and HTTP: its decoder goes first, and the client address
            // it names is the exchanges' (X-Forwarded-For, rate-limit keys, IP lists, logs).
            dev.torii.internal.proxyprotocol.ProxyProtocolHandler.install(ch, proxyTrust);
        }
    }

    /** Picks the pipeline for the protocol ALPN settled on: h2, else HTTP/1.1 (also when the client sent no ALPN). */
    private final class AlpnHandler extends ApplicationProtocolNegotiationHandler {
        AlpnHandler() {
            super(ApplicationProtocolNames.HTTP_1_1);
        }

        @Override
        protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
            if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                Http2Connections.configure(ctx.channel(), Engine.this, true);
                if (draining(ctx.channel())) {
                    // The drain's event reached this connection before it knew its protocol.
                    drain(ctx.channel());
                }
            } else {
                ctx.channel().config().setAutoRead(false);
                initHttp1(ctx.channel(), decoderConfig(), true, false);
            }
        }

        @Override
        protected void handshakeFailure(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    /** The HTTP/1.1 pipeline of a client connection (also used by in-memory tests). */
    public void initHttp1(Channel ch, HttpDecoderConfig decoderConfig) {
        initHttp1(ch, decoderConfig, false, false);
    }

    /**
     * The HTTP/1.1 pipeline of a client connection.
     *
     * @param h2cUpgrade whether the first request may upgrade the connection to h2c (clear text only)
     */
    public void initHttp1(Channel ch, HttpDecoderConfig decoderConfig, boolean secure, boolean h2cUpgrade) {
        ProxyHandler handler = new ProxyHandler(this, secure, false);
        ch.pipeline()
                .addLast("codec", new StrictServerCodec(decoderConfig, handler::onBytes))
                .addLast("flow", new FlowControlHandler())
                .addLast("proxy", handler);
        RequestBodyRateHandler.addAfter(ch.pipeline(), "codec", this, false);
        if (h2cUpgrade) {
            H2cSupport.addUpgradeHandlers(ch.pipeline(), this);
        }
    }

    /** A new HTTP/1.1 decoder configuration with this engine's limits and strict parsing. */
    public HttpDecoderConfig decoderConfig() {
        return new HttpDecoderConfig()
                .setMaxInitialLineLength(limits.maxRequestLineLength())
                .setMaxHeaderSize(limits.maxHeaderSize())
                .setMaxChunkSize(64 * 1024)
                .setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true)
                .setUseRfc9112TransferEncoding(true);
    }

    /** The address listener {@code listenerName} is bound to. */
    public InetSocketAddress boundAddress(String listenerName) {
        return listeners.boundAddress(listenerName);
    }

    public RoutingTable routingTable() {
        return snapshot.table();
    }

    public synchronized void routingTable(RoutingTable table) {
        snapshot = snapshotOf(table, snapshot.states());
        if (healthChecks != null) {
            healthChecks.update(snapshot.states().values());
        }
    }

    /** The health of every endpoint of the current table's upstreams, by upstream name then endpoint order. */
    public List<dev.torii.upstream.EndpointStatus> upstreamHealth() {
        var out = new java.util.ArrayList<dev.torii.upstream.EndpointStatus>();
        snapshot.states().values().stream()
                .sorted(java.util.Comparator.comparing(s -> s.upstream.name()))
                .forEach(s -> out.addAll(s.status()));
        return out;
    }

    /** The pools and connects of every upstream that has had any, sorted by name. Thread-safe. */
    public List<dev.torii.upstream.UpstreamPoolStats> upstreamPools() {
        return upstreamCounters.list();
    }

    /** Where connects are counted by upstream and reason (a failed DNS lookup of an endpoint, say). */
    public dev.torii.internal.upstream.UpstreamCounters upstreamCounters() {
        return upstreamCounters;
    }

    /** The current routing table and upstream states; an exchange reads it once, when its head is decoded. */
    public Snapshot snapshot() {
        return snapshot;
    }

    /** The global hooks that are {@link dev.torii.UpstreamAttemptListener}s, in order. */
    List<dev.torii.UpstreamAttemptListener> attemptListeners() {
        return attemptListeners;
    }

    /** The global hooks, in order. */
    public List<Hook> hooks() {
        return hooks;
    }

    /**
     * Swaps in {@code hooks} as the global hooks of every exchange whose head is decoded from now on (and of every TCP
     * connection accepted from now on); exchanges in flight keep the list they started with, except for their LOG
     * phase, which runs the list current when they finish.
     */
    public void hooks(List<Hook> hooks) {
        this.hooks = List.copyOf(hooks);
        this.attemptListeners = attemptListenersOf(this.hooks);
    }

    public Limits limits() {
        return limits;
    }

    /**
     * Swaps in {@code next} for every check made from now on, and the per-listener request caps derived from it.
     * Called by the reloading thread (which also calls {@link #listeners(List)}, so the two do not race).
     */
    public void limits(Limits next) {
        this.limits = java.util.Objects.requireNonNull(next, "next");
        listeners.limits(next);
    }

    /** The HTTP/2 limits of client connections made from now on. */
    public Http2Limits http2Limits() {
        return http2Limits;
    }

    /**
     * Swaps in {@code next} for the HTTP/2 client connections made from now on (a reload); open ones keep the limits
     * their codec was built with. Any thread.
     */
    public void http2Limits(Http2Limits next) {
        this.http2Limits = java.util.Objects.requireNonNull(next, "next");
    }

    /**
     * Swaps in {@code next} (trusted proxies, {@code Via}, {@code X-Forwarded-*}) for the exchanges that reach their
     * upstream from now on (a reload). Any thread.
     */
    public void forwarding(Forwarding next) {
        this.forwarded = Forwarded.of(java.util.Objects.requireNonNull(next, "next"));
    }

    /** Counts a malformed HTTP/2 message from a client. Thread-safe. */
    public void countMalformedHttp2() {
        malformedHttp2.increment();
    }

    /** Counts a request refused for a body below the minimum rate (slow POST). Thread-safe. */
    public void countSlowRequestBody() {
        slowRequestBodies.increment();
    }

    /** Requests refused for a body below {@link Limits#minRequestBodyRate()} since start. Thread-safe. */
    public long slowRequestBodies() {
        return slowRequestBodies.sum();
    }

    /** Counts an HTTP/2 connection closed for a control-frame flood. Thread-safe. */
    public void countHttp2Flood(Http2Limits.Flood kind) {
        http2Floods.increment();
        http2FloodsByKind[kind.ordinal()].increment();
    }

    /** Where HTTP/2 floods are logged, at most once per client address per interval. Thread-safe. */
    public FloodLog floodLog() {
        return floodLog;
    }

    Forwarding forwarding() {
        return forwarded.settings();
    }

    /** The trusted proxies' CIDR blocks, parsed once per setting. */
    List<Cidr> trustedProxies() {
        return forwarded.trustedProxies();
    }

    /** {@code Via} for HTTP/1.1 requests, computed once per setting. */
    String via11() {
        return forwarded.via11();
    }

    /** {@code Via} for HTTP/2 requests, computed once per setting. */
    String via2() {
        return forwarded.via2();
    }

    ErrorResponder errorResponder() {
        return errorResponder;
    }

    /** Resolves upstream endpoints to addresses (through the DNS cache for names). */
    public EndpointResolver resolver() {
        return resolver;
    }

    /** The connection pool of {@code loop}; must be called on that loop. */
    ConnectionPool pool(EventLoop loop) {
        ConnectionPool p = pools.get();
        if (p == null) {
            p = new ConnectionPool(
                    loop, transport.channel(), upstreamConnectionsOpened, upstreamConnectsFailed, upstreamCounters);
            pools.set(p);
            allPools.add(p);
        }
        return p;
    }

    /** The transport of TCP listeners' event loops (see {@link #tcpTransport}). */
    public Transport tcpTransport() {
        return tcpTransport;
    }

    /** Counts an upstream connection opened. Thread-safe. */
    public void upstreamConnectionOpened() {
        upstreamConnectionsOpened.increment();
    }

    /** Counts a TCP listener's backend connect that failed (refused, timed out). Thread-safe. */
    public void upstreamConnectFailed() {
        upstreamConnectsFailed.increment();
    }

    /** Counts a TCP listener connection accepted and now open. Thread-safe. */
    public void tcpConnectionStarted() {
        tcpConnections.incrementAndGet();
        tcpConnectionsTotal.increment();
    }

    /** Counts a TCP listener connection closed. Thread-safe. */
    public void tcpConnectionFinished() {
        tcpConnections.decrementAndGet();
    }

    /** Counts a TCP listener connection rejected by a CONNECT hook. Thread-safe. */
    public void tcpConnectionRejected() {
        tcpConnectionsRejected.increment();
    }

    void exchangeStarted() {
        activeExchanges.incrementAndGet();
    }

    void exchangeFinished(Exchange exchange) {
        activeExchanges.decrementAndGet();
        totalExchanges.increment();
        runLogHooks(hooks, exchange);
        if (exchange.route() != null) {
            runLogHooks(exchange.route().hooks(), exchange);
        }
    }

    private static void runLogHooks(List<Hook> list, Exchange exchange) {
        for (int i = 0; i < list.size(); i++) {
            Hook h = list.get(i);
            try {
                h.onLog(exchange);
            } catch (RuntimeException e) {
                log.warn("hook {} failed in phase LOG: {}", h.name(), e.toString());
            }
        }
    }

    /**
     * Counts a request refused before an exchange existed (400/408/414/431) and hands its record to the global hooks'
     * {@link Hook#onRefused} (the access log, the request metrics). On the connection's event loop.
     */
    void countBareError(ProxyError error, ExchangeLog record) {
        bareErrors.increment();
        for (int i = 0; i < hooks.size(); i++) {
            Hook h = hooks.get(i);
            try {
                h.onRefused(record);
            } catch (RuntimeException e) {
                log.warn("hook {} failed for a refused request: {}", h.name(), e.toString());
            }
        }
    }

    public GatewayStats stats() {
        return new GatewayStats(
                openConnections.get(),
                activeExchanges.get(),
                totalExchanges.sum(),
                rejectedConnections.sum(),
                upstreamConnectionsOpened.sum(),
                upstreamConnectsFailed.sum(),
                guardedConnections.sum(),
                malformedHttp2.sum(),
                http2Floods.sum(),
                tcpConnections.get(),
                tcpConnectionsTotal.sum(),
                tcpConnectionsRejected.sum(),
                http2FloodsByKind(),
                maxRequestsReached.sum());
    }

    private java.util.Map<Http2Limits.Flood, Long> http2FloodsByKind() {
        var byKind = new java.util.EnumMap<Http2Limits.Flood, Long>(Http2Limits.Flood.class);
        for (Http2Limits.Flood kind : Http2Limits.Flood.values()) {
            byKind.put(kind, http2FloodsByKind[kind.ordinal()].sum());
        }
        return byKind;
    }

    private static LongAdder[] newAdders(int n) {
        LongAdder[] adders = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            adders[i] = new LongAdder();
        }
        return adders;
    }

    /** Whether a drain began ({@link #shutdown}): every connection serves what it received, then closes. */
    public boolean draining() {
        return draining;
    }

    /**
     * The request limit per client connection of listener {@code listenerName} (its own, else the gateway's); 0 for
     * none.
     */
    int maxRequestsPerConnection(String listenerName) {
        Integer max = listenerName == null ? null : listeners.maxRequestsPerConnection(listenerName);
        return max == null ? limits.maxRequestsPerConnection() : max;
    }

    /** Counts a client connection that reached its request limit (and closes, or drains for HTTP/2). Thread-safe. */
    void countMaxRequestsReached() {
        maxRequestsReached.increment();
    }

    /**
     * Starts draining client connection {@code ch}, on its event loop: an HTTP/2 connection gets a GOAWAY with last
     * stream id 2^31-1 now and, {@link #GOAWAY_GRACE_MILLIS} later, a GOAWAY with the last stream it opened, then
     * closes once those streams are done (Netty's graceful shutdown of its connection handler, bounded by
     * {@link Limits#shutdownTimeout()}); any other connection gets {@link #DRAIN}. Idempotent; any thread.
     */
    public void drain(Channel ch) {
        if (ch.eventLoop().inEventLoop()) {
            drainOnLoop(ch);
        } else {
            ch.eventLoop().execute(() -> drainOnLoop(ch));
        }
    }

    private void drainOnLoop(Channel ch) {
        if (!ch.isActive()) {
            return;
        }
        Http2FrameCodec codec = ch.pipeline().get(Http2FrameCodec.class);
        if (codec == null) {
            ch.pipeline().fireUserEventTriggered(DRAIN);
            return;
        }
        if (ch.attr(GOAWAY_SENT).setIfAbsent(Boolean.TRUE) != null) {
            return;
        }
        ChannelHandlerContext codecCtx = ch.pipeline().context(codec);
        codec.goAway(
                codecCtx, Integer.MAX_VALUE, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER, codecCtx.newPromise());
        codecCtx.flush();
        ch.eventLoop()
                .schedule(
                        () -> {
                            if (!ch.isActive()) {
                                return;
                            }
                            int last = codec.connection().remote().lastStreamCreated();
                            codec.goAway(
                                    codecCtx,
                                    last,
                                    Http2Error.NO_ERROR.code(),
                                    Unpooled.EMPTY_BUFFER,
                                    codecCtx.newPromise());
                            codecCtx.flush();
                            // The connection's guard closes it: with a GOAWAY sent, Netty's close waits for the
                            // open streams (up to the graceful shutdown timeout) instead of cutting them.
                            ch.pipeline().fireUserEventTriggered(DRAIN);
                        },
                        GOAWAY_GRACE_MILLIS,
                        TimeUnit.MILLISECONDS);
    }

    /**
     * Drains and stops: readiness is the caller's (the server says "not ready" first); here every open client
     * connection {@link #drain drains} at once, the listeners keep taking what the kernel already queued for
     * {@link ListenerDrain#ACCEPT_QUIET_MILLIS} and then close, and once every connection closed (or {@code deadline} passed, when
     * the rest are closed) the pools, the resolver and the event loops stop. The future completes then.
     */
    public synchronized CompletableFuture<Void> shutdown(Duration deadline) {
        if (shutdown != null) {
            return shutdown;
        }
        if (group == null) {
            shutdown = CompletableFuture.completedFuture(null);
            resolver.close();
            listeners.stop();
            return shutdown;
        }
        shutdown = new CompletableFuture<>();
        long deadlineNanos = System.nanoTime() + deadline.toNanos();
        draining = true;
        log.info("draining {} client connection(s)", clients.size());
        for (Channel ch : clients) {
            drain(ch);
        }
        var listenersClosed = listeners.closeWhenQuiet(deadlineNanos);
        listenersClosed.thenRun(() -> {
            // Now no connection can join: wait for the ones there are (also those accepted in the grace).
            var drained = new CompletableFuture<Void>();
            clients.newCloseFuture().addListener(f -> drained.complete(null));
            long left = Math.max(0, deadlineNanos - System.nanoTime());
            drained.completeOnTimeout(null, left, TimeUnit.NANOSECONDS)
                    .whenComplete((v, e) -> finishShutdown(deadline));
        });
        return shutdown;
    }

    private void finishShutdown(Duration deadline) {
        int left = clients.size();
        if (left > 0) {
            log.warn("shutdown deadline of {} ms passed: closing {} connections still busy", deadline.toMillis(), left);
        }
        clients.close().awaitUninterruptibly();
        for (ConnectionPool p : allPools) {
            p.closeAsync();
        }
        if (healthChecks != null) {
            healthChecks.close();
        }
        resolver.close();
        listeners.stop();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).addListener(f -> shutdown.complete(null));
    }
}
