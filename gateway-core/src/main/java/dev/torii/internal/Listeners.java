package dev.torii.internal;

import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.internal.tls.TlsTermination;
import dev.torii.tcp.TcpListener;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's listening sockets and their lifecycle, for the {@link Engine} that owns the event loops and the
 * connections:
 *
 * <pre>
 *   start:   certificates load ─▶ every listener binds and accepts
 *   reload:  certificates load ─▶ new addresses bind, paused ─▶ caller's swap ─▶ kept listeners take new settings
 *            ─▶ new sockets accept (what queued since the bind, too) ─▶ removed ones retire
 *   retire:  its connections drain ─▶ it accepts until its queue stays empty ({@link ListenerDrain}) ─▶ closes
 *   stop:    every listener retires at once (the engine's shutdown), then the TLS reloader and TCP loops stop
 * </pre>
 *
 * <p>Each bound listener has an {@link Initializer} that sets up the connections it accepts (the engine's wiring); a
 * reload that keeps a listener's address hands its initializer the new settings instead of binding again. The HTTPS
 * listeners' {@link TlsTermination}s live here too: a reload keeps a listener's running one when its TLS settings
 * stayed, and a reloader thread checks the certificate files.
 *
 * <p>Thread-safety: {@link #start}, {@link #swap} and {@link #stop} are called by one thread at a time (the engine's
 * lock); the lookups ({@link #tls}, {@link #maxRequestsPerConnection}, {@link #boundAddress}, the lists) are safe from
 * any thread.
 */
final class Listeners {
    private static final Logger log = LoggerFactory.getLogger(Listeners.class);

    /** Set on a listener's server channel once a reload removed it: the connections it still accepts drain. */
    private static final AttributeKey<Boolean> RETIRED = AttributeKey.valueOf("torii.listener.draining");

    /**
     * Sets up each connection one listener accepts, with the listener's settings of the moment: a reload that keeps the
     * listener's address hands it new ones ({@link #use}) for the connections accepted from then on.
     *
     * @param <L> the listener type ({@link Listener} or {@link TcpListener})
     */
    abstract static class Initializer<L> extends ChannelInitializer<Channel> {
        /** Takes {@code listener}'s settings for the connections accepted from now on. Any thread. */
        abstract void use(L listener);
    }

    private final Engine engine;
    private final Transport transport;
    private final Transport tcpTransport;
    private final int ioThreads;
    private final Function<Listener, Initializer<Listener>> httpInitializer;
    private final Function<TcpListener, Initializer<TcpListener>> tcpInitializer;

    private volatile List<Listener> http;
    private volatile List<TcpListener> tcp = List.of();
    private final Map<String, Channel> bound = Collections.synchronizedMap(new LinkedHashMap<>());
    /** The initializer of each bound HTTP/HTTPS listener: a reload hands a kept one its new settings. */
    private final Map<String, Initializer<Listener>> httpInitializers = new ConcurrentHashMap<>();
    /** The initializer of each bound TCP listener: a reload hands a kept one its new settings. */
    private final Map<String, Initializer<TcpListener>> tcpInitializers = new ConcurrentHashMap<>();

    private final Map<String, TlsTermination> tls = new ConcurrentHashMap<>();
    private final Map<String, Integer> maxRequestsByListener = new ConcurrentHashMap<>();
    private ScheduledExecutorService tlsReloader;
    private EventLoopGroup group;
    private EventLoopGroup tcpGroup;

    Listeners(
            Engine engine,
            List<Listener> http,
            Limits limits,
            Transport transport,
            Transport tcpTransport,
            int ioThreads,
            Function<Listener, Initializer<Listener>> httpInitializer,
            Function<TcpListener, Initializer<TcpListener>> tcpInitializer) {
        this.engine = engine;
        this.http = http;
        this.transport = transport;
        this.tcpTransport = tcpTransport;
        this.ioThreads = ioThreads;
        this.httpInitializer = httpInitializer;
        this.tcpInitializer = tcpInitializer;
        limits(limits);
    }

    /** The HTTP and HTTPS listeners now (the last reload's). */
    List<Listener> http() {
        return http;
    }

    /** The TCP listeners now (the last reload's). */
    List<TcpListener> tcp() {
        return tcp;
    }

    /** Sets the TCP listeners to bind on {@link #start} (after the HTTP ones). */
    synchronized void tcp(List<TcpListener> tcpListeners) {
        this.tcp = List.copyOf(tcpListeners);
    }

    /** The TLS termination of HTTPS listener {@code name}, or null for a clear-text (or unknown) one. */
    TlsTermination tls(String name) {
        return tls.get(name);
    }

    /** The request limit per connection of listener {@code name} (its own, else {@code limits}'), or null if unknown. */
    Integer maxRequestsPerConnection(String name) {
        return maxRequestsByListener.get(name);
    }

    /** Derives the per-listener request caps from {@code limits} (a reload swapped them). */
    void limits(Limits limits) {
        for (Listener l : http) {
            maxRequestsByListener.put(l.name(), l.options().maxRequestsPerConnection(limits));
        }
    }

    /**
     * Loads the HTTPS listeners' certificates and starts their reloader: before the event loops exist, so a bad file
     * fails the start before anything is bound.
     */
    synchronized void loadCertificates() {
        for (Listener l : http) {
            if (l.tls() != null) {
                tls.put(l.name(), new TlsTermination(l.name(), l.tls()));
            }
        }
        startTlsReloader();
    }

    /**
     * Binds every listener on {@code group} (TCP ones on loops of their own when their transport differs) and starts
     * accepting. When a bind fails, the caller {@link #abort}s.
     */
    synchronized void start(EventLoopGroup group) {
        this.group = group;
        for (Listener l : http) {
            var init = httpInitializer.apply(l);
            bound.put(l.name(), bindHttp(l, init, false));
            httpInitializers.put(l.name(), init);
        }
        for (TcpListener l : tcp) {
            var init = tcpInitializer.apply(l);
            bound.put(l.name(), bindTcp(l, init, false));
            tcpInitializers.put(l.name(), init);
        }
    }

    /**
     * Undoes a start that failed (in {@link #start} or after it): closes every bound socket, stops the TCP loops and
     * the TLS reloader, at once.
     */
    synchronized void abort() {
        bound.values().forEach(Channel::close);
        bound.clear();
        if (tcpGroup != null && tcpGroup != group) {
            tcpGroup.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            tcpGroup = null;
        }
        stopTlsReloader();
    }

    /**
     * What every listening socket shares: accepts counted for the drain, the backlog, address reuse, accepting only
     * once not {@code paused}, and children that read only when their handlers ask. TCP_NODELAY is not set: every
     * transport turns it on when it constructs an accepted channel (see Transport#newSocketChannel), and setting it
     * again would be one more system call per connection.
     */
    private static ServerBootstrap listening(EventLoopGroup group, Transport transport, boolean paused) {
        return new ServerBootstrap()
                .group(group)
                .channel(transport.serverChannel())
                .handler(new ListenerDrain.AcceptCounter())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.AUTO_READ, !paused)
                .childOption(ChannelOption.AUTO_READ, false);
    }

    /**
     * Binds HTTP/HTTPS listener {@code l}; the message of a failure names it and its address.
     *
     * @param paused whether the socket only binds (connections queue in the kernel) until auto-read is turned on
     */
    private Channel bindHttp(Listener l, Initializer<Listener> init, boolean paused) {
        InetSocketAddress address = new InetSocketAddress(l.host(), l.port());
        Channel ch;
        try {
            ch = listening(group, transport, paused)
                    .childHandler(init)
                    .bind(address)
                    .sync()
                    .channel();
        } catch (Exception e) {
            throw cannotBind(l.name(), l.host(), l.port(), e);
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

    /** Binds TCP listener {@code l} ({@code paused}: as for {@link #bindHttp}); a failure names it and its address. */
    private Channel bindTcp(TcpListener l, Initializer<TcpListener> init, boolean paused) {
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
            ch = listening(tcpGroup, tcpTransport, paused)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(init)
                    .bind(new InetSocketAddress(l.host(), l.port()))
                    .sync()
                    .channel();
        } catch (Exception e) {
            throw cannotBind(l.name(), l.host(), l.port(), e);
        }
        log.info(
                "listener '{}' (TCP to upstream '{}') on {} [{} transport]",
                l.name(),
                l.upstream(),
                ch.localAddress(),
                tcpTransport.name());
        return ch;
    }

    private static UncheckedIOException cannotBind(String name, String host, int port, Exception e) {
        return new UncheckedIOException(
                "listener '" + name + "': cannot bind " + host + ":" + port + ": " + e.getMessage(),
                e instanceof java.io.IOException io ? io : new BindException(String.valueOf(e)));
    }

    /**
     * Applies {@code nextHttp} and {@code nextTcp} as the listeners (a reload; see
     * {@link Engine#listeners(List, List, Runnable)}): certificates load and new addresses bind paused, {@code swap}
     * runs, kept listeners take their new settings, the new sockets accept and the removed ones {@link #retire}. When a
     * bind or {@code swap} fails, every socket bound for this call is closed again and nothing changed.
     */
    synchronized void swap(List<Listener> nextHttp, List<TcpListener> nextTcp, Runnable swap) {
        var names = new HashSet<String>();
        for (Listener l : nextHttp) {
            requireUnique(names, l.name());
        }
        for (TcpListener l : nextTcp) {
            requireUnique(names, l.name());
        }
        var old = new LinkedHashMap<String, Listener>();
        for (Listener l : http) {
            old.put(l.name(), l);
        }
        var oldTcp = new LinkedHashMap<String, TcpListener>();
        for (TcpListener l : tcp) {
            oldTcp.put(l.name(), l);
        }
        var terminations = new HashMap<String, TlsTermination>();
        for (Listener l : nextHttp) {
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
        var freshHttp = new HashMap<String, Initializer<Listener>>();
        var freshTcp = new HashMap<String, Initializer<TcpListener>>();
        try {
            for (Listener l : nextHttp) {
                Listener before = old.get(l.name());
                if (before == null || !sameAddress(before, l)) {
                    var init = httpInitializer.apply(l);
                    fresh.put(l.name(), bindHttp(l, init, true));
                    freshHttp.put(l.name(), init);
                }
            }
            for (TcpListener l : nextTcp) {
                TcpListener before = oldTcp.get(l.name());
                if (before == null || !before.host().equals(l.host()) || before.port() != l.port()) {
                    var init = tcpInitializer.apply(l);
                    fresh.put(l.name(), bindTcp(l, init, true));
                    freshTcp.put(l.name(), init);
                }
            }
            swap.run();
        } catch (RuntimeException e) {
            fresh.values().forEach(Channel::close);
            throw e;
        }
        // Nothing can fail from here on.
        var retired = new ArrayList<Channel>();
        for (Listener l : old.values()) {
            boolean kept = nextHttp.stream().anyMatch(n -> n.name().equals(l.name()));
            if (!kept || fresh.containsKey(l.name())) {
                Channel server = bound.remove(l.name());
                if (server != null) {
                    retired.add(server);
                }
                httpInitializers.remove(l.name());
                if (!kept) {
                    tls.remove(l.name());
                    maxRequestsByListener.remove(l.name());
                }
                log.info("listener '{}' on {}:{} removed: it drains", l.name(), l.host(), l.port());
            }
        }
        var retiredTcp = new ArrayList<Channel>();
        for (TcpListener l : oldTcp.values()) {
            boolean kept = nextTcp.stream().anyMatch(n -> n.name().equals(l.name()));
            if (!kept || fresh.containsKey(l.name())) {
                Channel server = bound.remove(l.name());
                if (server != null) {
                    retiredTcp.add(server);
                }
                tcpInitializers.remove(l.name());
                log.info(
                        "listener '{}' (TCP) on {}:{} removed: its connections run on until the drain deadline",
                        l.name(),
                        l.host(),
                        l.port());
            }
        }
        Limits limits = engine.limits();
        for (Listener l : nextHttp) {
            maxRequestsByListener.put(l.name(), l.options().maxRequestsPerConnection(limits));
            TlsTermination t = terminations.get(l.name());
            if (t != null) {
                tls.put(l.name(), t);
            } else {
                tls.remove(l.name());
            }
            var kept = httpInitializers.get(l.name());
            if (kept != null) {
                kept.use(l);
            }
        }
        for (TcpListener l : nextTcp) {
            var kept = tcpInitializers.get(l.name());
            if (kept != null) {
                kept.use(l);
            }
        }
        httpInitializers.putAll(freshHttp);
        tcpInitializers.putAll(freshTcp);
        bound.putAll(fresh);
        http = List.copyOf(nextHttp);
        tcp = List.copyOf(nextTcp);
        for (Channel server : fresh.values()) {
            server.config().setAutoRead(true); // accepts what queued since the bind, and from now on
        }
        if (tlsReloader == null) {
            // The first https listener with a reload interval came with this reload.
            startTlsReloader();
        }
        for (Channel server : retired) {
            retire(server, false);
        }
        for (Channel server : retiredTcp) {
            retire(server, true);
        }
    }

    private static void requireUnique(HashSet<String> names, String name) {
        if (!names.add(name)) {
            throw new IllegalArgumentException("listener '" + name + "': defined twice (expected: unique names)");
        }
    }

    private static boolean sameAddress(Listener a, Listener b) {
        return a.host().equals(b.host()) && a.port() == b.port();
    }

    /**
     * Drains one listener: the connections it accepted drain (as on shutdown), connections it still takes from its
     * queue drain as they start, and its socket closes once its accept queue stays empty.
     */
    private void retire(Channel server, boolean tcp) {
        server.attr(RETIRED).set(Boolean.TRUE);
        for (Channel ch : engine.clients()) {
            if (ch.parent() == server) {
                engine.drain(ch);
            }
        }
        Duration timeout = engine.limits().shutdownTimeout();
        long deadline = System.nanoTime() + timeout.toNanos();
        var closed = new CompletableFuture<Void>();
        ListenerDrain.closeWhenQuiet(server, deadline, closed);
        if (tcp) {
            // A byte stream has no point where it could stop cleanly (see TcpProxyHandler's DRAIN): the connections of
            // a removed TCP listener, also those it took from its queue meanwhile, run on until the deadline, as at
            // shutdown, and are closed then.
            closed.thenRun(() -> server.eventLoop()
                    .schedule(
                            () -> closeChildren(server),
                            Math.max(0, deadline - System.nanoTime()),
                            TimeUnit.NANOSECONDS));
        }
    }

    private void closeChildren(Channel server) {
        int left = 0;
        for (Channel ch : engine.clients()) {
            if (ch.parent() == server) {
                left++;
                ch.close();
            }
        }
        if (left > 0) {
            log.info(
                    "removed TCP listener on {}: drain deadline passed, closing {} connection(s)",
                    server.localAddress(),
                    left);
        }
    }

    /** Whether {@code server}, a listener's server channel, was removed by a reload (it drains what it accepts). */
    static boolean retired(Channel server) {
        return server != null && server.hasAttr(RETIRED);
    }

    /**
     * Closes every listener once its accept queue stays empty (or at {@code deadlineNanos}), as a shutdown does; the
     * future completes when all are closed.
     */
    CompletableFuture<Void> closeWhenQuiet(long deadlineNanos) {
        var closing = new ArrayList<CompletableFuture<Void>>();
        synchronized (bound) {
            for (Channel server : bound.values()) {
                var closed = new CompletableFuture<Void>();
                closing.add(closed);
                ListenerDrain.closeWhenQuiet(server, deadlineNanos, closed);
            }
        }
        return CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new));
    }

    /** Stops the TLS reloader and the TCP listeners' own event loops (if any), once the connections are closed. */
    synchronized void stop() {
        stopTlsReloader();
        if (tcpGroup != null && tcpGroup != group) {
            tcpGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
    }

    /** The address listener {@code name} is bound to. */
    InetSocketAddress boundAddress(String name) {
        Channel ch = bound.get(name);
        if (ch == null) {
            throw new IllegalArgumentException(
                    "listener: '" + name + "' (expected one of the bound listeners: " + bound.keySet() + ")");
        }
        return (InetSocketAddress) ch.localAddress();
    }

    /** Checks certificate files for changes off the event loops, at the shortest interval any listener asks for. */
    private void startTlsReloader() {
        long every = http.stream()
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
    int reloadCertificates() {
        int reloaded = 0;
        for (TlsTermination t : tls.values()) {
            if (t.reloadIfChanged()) {
                reloaded++;
            }
        }
        return reloaded;
    }
}
