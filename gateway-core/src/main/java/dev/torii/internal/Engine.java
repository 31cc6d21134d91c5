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
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
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
import java.net.BindException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine behind {@link dev.torii.Gateway}: event loops, listeners, the current routing snapshot, per-loop
 * connection pools, counters and graceful shutdown. Thread-safe; the per-exchange work happens in
 * {@link ProxyHandler} on one event loop.
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
     * While draining, a listener closes once its event loop ran a whole window of this length, on time, without
     * accepting a connection. Connections the kernel completed but Netty did not accept yet sit in the listen queue,
     * and closing a listening socket resets them: a client whose request was sent would see a reset. A fixed grace is
     * not enough, since a loop may be late by seconds (a cold JVM's first connections); a window in which the loop was
     * late does not count, and each accepted connection is served and drained like the ones open before. A quiet
     * window is confirmed after one more pass of the loop over its I/O (see {@link #closeWhenQuiet}).
     */
    static final long ACCEPT_QUIET_MILLIS = 100;

    /**
     * At most this many on-time windows of {@link #ACCEPT_QUIET_MILLIS} with accepts before a draining listener closes
     * anyway: clients that reconnect at once after {@code Connection: close} would otherwise keep it open until the
     * deadline. Late windows do not count, so a stalled loop still empties its queue first.
     */
    static final int ACCEPT_MAX_WINDOWS = 10;

    /**
     * How long an HTTP/2 connection keeps taking new streams after the first GOAWAY of a drain (last stream id
     * 2^31-1: "stop opening streams"), before the second one names the last stream it will serve. Streams the client
     * opened before it read the first GOAWAY are still served (the two-step shutdown of RFC 9113 section 6.8, as
     * Envoy and Go's server do it).
     */
    static final long GOAWAY_GRACE_MILLIS = 1000;

    /** Set on a listener's server channel once a reload removed it: the connections it still accepts drain. */
    private static final io.netty.util.AttributeKey<Boolean> LISTENER_DRAINING =
            io.netty.util.AttributeKey.valueOf("torii.listener.draining");

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

    private volatile List<Listener> listeners;
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

    private final Http2Limits http2Limits;
    private final Forwarding forwarding;
    private final ErrorResponder errorResponder;
    private final int ioThreads;
    private final Transport transport = Transport.best();
    private final EndpointResolver resolver;
    private final FastThreadLocal<ConnectionPool> pools = new FastThreadLocal<>();
    private final List<ConnectionPool> allPools = new CopyOnWriteArrayList<>();
    private final Map<String, Channel> bound = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
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
    private final Map<String, Integer> maxRequestsByListener = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile boolean draining;
    private final Map<String, TlsTermination> tls = new java.util.concurrent.ConcurrentHashMap<>();
    private ScheduledExecutorService tlsReloader;
    private final String via11;
    private final String via2;
    private final List<Cidr> trustedProxies;
    private final AtomicInteger tcpConnections = new AtomicInteger();
    private final LongAdder tcpConnectionsTotal = new LongAdder();
    private final LongAdder tcpConnectionsRejected = new LongAdder();
    private List<TcpListener> tcpListeners = List.of();
    /**
     * TCP listeners run on NIO event loops of their own when the HTTP ones use epoll: Netty 4.2.18's epoll transport
     * drops a channel from the epoll set when its interest set becomes empty, which a half-closed connection with
     * reads off reaches, and then fails the next wait for writability (epoll_ctl MOD: ENOENT), losing the bytes
     * queued for a slow client. NIO has no such state.
     */
    private final Transport tcpTransport = Transport.forTcp(transport);

    private EventLoopGroup tcpGroup;
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
        this.listeners = listeners;
        this.resolver = new EndpointResolver(dnsCache);
        this.hooks = hooks;
        this.attemptListeners = attemptListenersOf(hooks);
        this.limits = limits;
        this.http2Limits = http2Limits;
        this.forwarding = forwarding;
        this.errorResponder = errorResponder;
        this.ioThreads = ioThreads;
        this.via11 = "1.1 " + forwarding.viaName();
        this.via2 = "2 " + forwarding.viaName();
        this.trustedProxies = Cidr.parseAll(forwarding.trustedProxies());
        this.snapshot = snapshotOf(table, Map.of());
        for (Listener l : listeners) {
            maxRequestsByListener.put(l.name(), l.options().maxRequestsPerConnection(limits));
        }
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

    /** Sets the TCP listeners to bind on {@link #start()} (after the HTTP ones). */
    public synchronized void tcpListeners(List<TcpListener> tcpListeners) {
        this.tcpListeners = List.copyOf(tcpListeners);
    }

    public synchronized void start() {
        if (group != null) {
            throw new IllegalStateException("gateway already started");
        }
        // Certificates first: a bad file fails the start before anything is bound.
        for (Listener l : listeners) {
            if (l.tls() != null) {
                tls.put(l.name(), new TlsTermination(l.name(), l.tls()));
            }
        }
        startTlsReloader();
        group = new MultiThreadIoEventLoopGroup(
                ioThreads, new DefaultThreadFactory("torii-io", true), transport.ioHandlerFactory());
        try {
            for (Listener l : listeners) {
                bound.put(l.name(), bindHttp(l));
            }
            for (TcpListener l : tcpListeners) {
                bindTcp(l);
            }
            healthChecks = new HealthChecks(group, transport.channel(), resolver);
            healthChecks.update(snapshot.states().values());
        } catch (RuntimeException e) {
            bound.values().forEach(Channel::close);
            bound.clear();
            if (tcpGroup != null && tcpGroup != group) {
                tcpGroup.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            }
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            resolver.close();
            stopTlsReloader();
            throw e;
        }
    }

    /** Binds HTTP/HTTPS listener {@code l}; the message of a failure names it and its address. */
    private Channel bindHttp(Listener l) {
        InetSocketAddress address = new InetSocketAddress(l.host(), l.port());
        Channel ch;
        try {
            ch = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverChannel())
                    .handler(new AcceptCounter())
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ClientInitializer(l))
                    .bind(address)
                    .sync()
                    .channel();
        } catch (Exception e) {
            throw new UncheckedIOException(
                    "listener '" + l.name() + "': cannot bind " + l.host() + ":" + l.port() + ": " + e.getMessage(),
                    e instanceof java.io.IOException io ? io : new BindException(String.valueOf(e)));
        }
        log.info(
                "listener '{}' ({}) on {} [{} transport, {} event loops]",
                l.name(),
                l.protocol(),
                ch.localAddress(),
                transport.name(),
                ioThreads);
        return ch;
    }

    /**
     * Applies {@code next} as the HTTP and HTTPS listeners (a reload): a listener whose name and address stay keeps
     * its socket and its connections, and takes its new settings (TLS, options) for the connections it accepts from
     * now on; a new listener, or one whose address changed, is bound; a removed one (or the old socket of a moved one)
     * drains like a shutdown does, for that listener only. Certificates load and new addresses bind before anything
     * changes: when one fails, every socket bound for this call is closed again and nothing changed.
     *
     * @throws UncheckedIOException when a new address cannot be bound (the message names the listener)
     * @throws IllegalArgumentException when a certificate cannot be loaded, or a name repeats
     */
    public synchronized void listeners(List<Listener> next) {
        if (group == null || draining) {
            throw new IllegalStateException("listeners: the gateway is not running");
        }
        var names = new java.util.HashSet<String>();
        for (Listener l : next) {
            if (!names.add(l.name())) {
                throw new IllegalArgumentException(
                        "listener '" + l.name() + "': defined twice (expected: unique names)");
            }
            for (TcpListener t : tcpListeners) {
                if (t.name().equals(l.name())) {
                    throw new IllegalArgumentException(
                            "listener '" + l.name() + "': a running tcp listener has this name (expected: unique)");
                }
            }
        }
        var old = new LinkedHashMap<String, Listener>();
        for (Listener l : listeners) {
            old.put(l.name(), l);
        }
        var terminations = new HashMap<String, TlsTermination>();
        for (Listener l : next) {
            Listener before = old.get(l.name());
            if (l.tls() != null) {
                TlsTermination running = tls.get(l.name());
                terminations.put(
                        l.name(),
                        running != null && before != null && l.tls().equals(before.tls())
                                ? running
                                : new TlsTermination(l.name(), l.tls()));
            }
        }
        var fresh = new LinkedHashMap<String, Channel>();
        try {
            for (Listener l : next) {
                Listener before = old.get(l.name());
                if (before == null || !sameAddress(before, l)) {
                    fresh.put(l.name(), bindHttp(l));
                }
            }
        } catch (RuntimeException e) {
            fresh.values().forEach(Channel::close);
            throw e;
        }
        // Nothing can fail from here on.
        var retired = new ArrayList<Channel>();
        for (Listener l : old.values()) {
            Listener after = next.stream()
                    .filter(n -> n.name().equals(l.name()))
                    .findFirst()
                    .orElse(null);
            if (after == null || fresh.containsKey(l.name())) {
                Channel server = bound.remove(l.name());
                if (server != null) {
                    retired.add(server);
                }
                if (after == null) {
                    tls.remove(l.name());
                    maxRequestsByListener.remove(l.name());
                }
                log.info("listener '{}' on {}:{} removed: it drains", l.name(), l.host(), l.port());
            }
        }
        for (Listener l : next) {
            maxRequestsByListener.put(l.name(), l.options().maxRequestsPerConnection(limits));
            TlsTermination t = terminations.get(l.name());
            if (t != null) {
                tls.put(l.name(), t);
            } else {
                tls.remove(l.name());
            }
        }
        bound.putAll(fresh);
        listeners = List.copyOf(next);
        if (tlsReloader == null) {
            // The first https listener with a reload interval came with this reload.
            startTlsReloader();
        }
        for (Channel server : retired) {
            retire(server);
        }
    }

    private static boolean sameAddress(Listener a, Listener b) {
        return a.host().equals(b.host()) && a.port() == b.port();
    }

    /**
     * Drains one listener: the connections it accepted drain (as on shutdown), connections it still takes from its
     * queue drain as they start, and its socket closes once its accept queue stays empty.
     */
    private void retire(Channel server) {
        server.attr(LISTENER_DRAINING).set(Boolean.TRUE);
        for (Channel ch : clients) {
            if (ch.parent() == server) {
                drain(ch);
            }
        }
        long deadline = System.nanoTime() + limits.shutdownTimeout().toNanos();
        startQuietWindows(server, deadline, new CompletableFuture<>());
    }

    /** Whether client connection {@code connection} must drain: the gateway or its listener is draining. */
    public boolean draining(Channel connection) {
        Channel server = connection == null ? null : connection.parent();
        return draining || (server != null && server.hasAttr(LISTENER_DRAINING));
    }

    /** Checks certificate files for changes off the event loops, at the shortest interval any listener asks for. */
    private void startTlsReloader() {
        long every = listeners.stream()
                .filter(l -> l.tls() != null && !l.tls().reloadInterval().isZero())
                .mapToLong(l -> l.tls().reloadInterval().toMillis())
                .min()
                .orElse(0);
        if (every > 0) {
            tlsReloader =
                    Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("torii-tls-reload", true));
            tlsReloader.scheduleWithFixedDelay(this::reloadCertificates, every, every, TimeUnit.MILLISECONDS);
        }
    }

    private void stopTlsReloader() {
        if (tlsReloader != null) {
            tlsReloader.shutdownNow();
        }
    }

    /** Reloads the certificates of every HTTPS listener whose files changed; returns how many listeners reloaded. */
    public int reloadCertificates() {
        int reloaded = 0;
        for (TlsTermination t : tls.values()) {
            if (t.reloadIfChanged()) {
                reloaded++;
            }
        }
        return reloaded;
    }

    private void bindTcp(TcpListener l) {
        Channel ch;
        try {
            if (tcpGroup == null) {
                tcpGroup = tcpTransport == transport
                        ? group
                        : new MultiThreadIoEventLoopGroup(
                                ioThreads,
                                new DefaultThreadFactory("torii-tcp", true),
                                tcpTransport.ioHandlerFactory());
            }
            ch = new ServerBootstrap()
                    .group(tcpGroup)
                    .channel(tcpTransport.serverChannel())
                    .handler(new AcceptCounter())
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new TcpInitializer(l))
                    .bind(new InetSocketAddress(l.host(), l.port()))
                    .sync()
                    .channel();
        } catch (Exception e) {
            throw new UncheckedIOException(
                    "listener '" + l.name() + "': cannot bind " + l.host() + ":" + l.port() + ": " + e.getMessage(),
                    e instanceof java.io.IOException io ? io : new BindException(String.valueOf(e)));
        }
        bound.put(l.name(), ch);
        log.info(
                "listener '{}' (TCP to upstream '{}') on {} [{} transport]",
                l.name(),
                l.upstream(),
                ch.localAddress(),
                tcpTransport.name());
    }

    /**
     * Counts an accepted connection against {@link Limits#maxConnections()} and tracks it for shutdown; over the limit
     * (or once shutdown began) it is closed at once and counted as rejected.
     */
    /** The guards every accepted connection passes, in order (set before {@link #start}). */
    public void connectionGuards(List<ConnectionGuard> guards) {
        this.guards = List.copyOf(guards);
    }

    private boolean admit(Channel ch, String listener) {
        // While draining, the listeners still take what the kernel queued (see ACCEPT_QUIET_MILLIS): those connections
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

    /** Sets up each accepted connection of a TCP listener. */
    private final class TcpInitializer extends ChannelInitializer<Channel> {
        private final TcpListener listener;
        private final dev.torii.internal.proxyprotocol.ProxyProtocolHandler.Trust proxyTrust;

        TcpInitializer(TcpListener listener) {
            this.listener = listener;
            this.proxyTrust = dev.torii.internal.proxyprotocol.ProxyProtocolHandler.Trust.of(
                    listener.options().proxyProtocol());
        }

        @Override
        protected void initChannel(Channel ch) {
            if (!admit(ch, listener.name())) {
                return;
            }
            // The handler keeps the idle timeout itself (see TcpProxyHandler#idleCheck).
            ch.pipeline().addLast("tcp", new TcpProxyHandler(Engine.this, listener, proxyTrust));
        }
    }

    /** Sets up each accepted client connection of one listener. */
    private final class ClientInitializer extends ChannelInitializer<Channel> {
        private final Listener listener;
        private final dev.torii.internal.proxyprotocol.ProxyProtocolHandler.Trust proxyTrust;

        ClientInitializer(Listener listener) {
            this.listener = listener;
            this.proxyTrust = dev.torii.internal.proxyprotocol.ProxyProtocolHandler.Trust.of(
                    listener.options().proxyProtocol());
        }

        @Override
        protected void initChannel(Channel ch) {
            if (!admit(ch, listener.name())) {
                return;
            }
            ch.attr(LISTENER).set(listener.name());
            ProxyHandler.rememberListenerOptions(ch, listener.options());
            TlsTermination termination = tls.get(listener.name());
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

    public InetSocketAddress boundAddress(String listenerName) {
        Channel ch = bound.get(listenerName);
        if (ch == null) {
            throw new IllegalArgumentException(
                    "listener: '" + listenerName + "' (expected one of the bound listeners: " + bound.keySet() + ")");
        }
        return (InetSocketAddress) ch.localAddress();
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
        for (Listener l : listeners) {
            maxRequestsByListener.put(l.name(), l.options().maxRequestsPerConnection(next));
        }
    }

    /** The HTTP/2 limits of client connections. */
    public Http2Limits http2Limits() {
        return http2Limits;
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
        return forwarding;
    }

    /** The trusted proxies' CIDR blocks, parsed once. */
    List<Cidr> trustedProxies() {
        return trustedProxies;
    }

    /** {@code Via} for HTTP/1.1 requests, computed once. */
    String via11() {
        return via11;
    }

    /** {@code Via} for HTTP/2 requests, computed once. */
    String via2() {
        return via2;
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
        Integer max = listenerName == null ? null : maxRequestsByListener.get(listenerName);
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
     * {@link #ACCEPT_QUIET_MILLIS} and then close, and once every connection closed (or {@code deadline} passed, when
     * the rest are closed) the pools, the resolver and the event loops stop. The future completes then.
     */
    public synchronized CompletableFuture<Void> shutdown(Duration deadline) {
        if (shutdown != null) {
            return shutdown;
        }
        if (group == null) {
            shutdown = CompletableFuture.completedFuture(null);
            resolver.close();
            stopTlsReloader();
            return shutdown;
        }
        shutdown = new CompletableFuture<>();
        long deadlineNanos = System.nanoTime() + deadline.toNanos();
        draining = true;
        log.info("draining {} client connection(s)", clients.size());
        for (Channel ch : clients) {
            drain(ch);
        }
        var closing = new ArrayList<CompletableFuture<Void>>();
        for (Channel server : bound.values()) {
            var closed = new CompletableFuture<Void>();
            closing.add(closed);
            startQuietWindows(server, deadlineNanos, closed);
        }
        var listenersClosed = CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new));
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

    /**
     * Starts {@link #closeWhenQuiet} for listener {@code server}, on its loop: the accept count the first window starts
     * from is the loop's own (read from another thread, it could already include an accept the loop is still busy
     * with, and a window with no further accept would look quiet).
     */
    private static void startQuietWindows(Channel server, long deadlineNanos, CompletableFuture<Void> closed) {
        AcceptCounter counter = server.pipeline().get(AcceptCounter.class);
        server.eventLoop()
                .execute(() ->
                        closeWhenQuiet(server, counter, counter.accepted, System.nanoTime(), 0, deadlineNanos, closed));
    }

    /**
     * Closes listener {@code server} once a window passes on time without an accept (or at the deadline).
     *
     * <p>A window without accepts is not enough: its check may run before the loop looked at the connections that
     * queued while it was busy. A loop that accepts also sets up the connections it hands to itself, inline, while it
     * handles its I/O (a cold JVM loads classes then, for hundreds of milliseconds); the connections that reach the
     * listen queue meanwhile are seen at its next I/O pass, but a check that fell due meanwhile runs first, as the
     * loop runs its tasks between two I/O passes. So a quiet window closes the listener only after a confirmation
     * scheduled from it: scheduled tasks are taken in at the start of a task run, so it runs after at least one more
     * I/O pass, which accepts whatever had queued by the time of the check.
     */
    private static void closeWhenQuiet(
            Channel server,
            AcceptCounter counter,
            long acceptedBefore,
            long checkedAt,
            int busyWindows,
            long deadlineNanos,
            CompletableFuture<Void> closed) {
        server.eventLoop()
                .schedule(
                        () -> {
                            long now = System.nanoTime();
                            boolean late = now - checkedAt > TimeUnit.MILLISECONDS.toNanos(3 * ACCEPT_QUIET_MILLIS);
                            long accepted = counter.accepted;
                            int busy = late ? busyWindows : busyWindows + 1;
                            if (busy >= ACCEPT_MAX_WINDOWS || now - deadlineNanos >= 0) {
                                closeListener(server, closed);
                            } else if (accepted == acceptedBefore && !late) {
                                confirmQuiet(server, counter, accepted, busy, deadlineNanos, closed);
                            } else {
                                closeWhenQuiet(server, counter, accepted, now, busy, deadlineNanos, closed);
                            }
                        },
                        ACCEPT_QUIET_MILLIS,
                        TimeUnit.MILLISECONDS);
    }

    /**
     * After a quiet window of {@link #closeWhenQuiet}: once the loop handled its I/O again, closes listener
     * {@code server} if it accepted nothing meanwhile, else goes on with another window. On the listener's loop.
     */
    private static void confirmQuiet(
            Channel server,
            AcceptCounter counter,
            long acceptedBefore,
            int busyWindows,
            long deadlineNanos,
            CompletableFuture<Void> closed) {
        // Scheduled, not executed: a task executed now would run in this same task run, before the next I/O pass.
        server.eventLoop()
                .schedule(
                        () -> {
                            if (counter.accepted == acceptedBefore) {
                                closeListener(server, closed);
                            } else {
                                log.debug(
                                        "drain: listener {} accepted {} queued connection(s) after a quiet window",
                                        server.localAddress(),
                                        counter.accepted - acceptedBefore);
                                closeWhenQuiet(
                                        server,
                                        counter,
                                        counter.accepted,
                                        System.nanoTime(),
                                        busyWindows,
                                        deadlineNanos,
                                        closed);
                            }
                        },
                        1,
                        TimeUnit.MILLISECONDS);
    }

    private static void closeListener(Channel server, CompletableFuture<Void> closed) {
        log.debug("drain: closing listener {}", server.localAddress());
        server.close().addListener(f -> closed.complete(null));
    }

    /** Counts the connections a listener accepted, on its event loop (for {@link #closeWhenQuiet}). */
    private static final class AcceptCounter extends io.netty.channel.ChannelInboundHandlerAdapter {
        long accepted;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            accepted++;
            ctx.fireChannelRead(msg);
        }
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
        stopTlsReloader();
        if (tcpGroup != null && tcpGroup != group) {
            tcpGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).addListener(f -> shutdown.complete(null));
    }
}
