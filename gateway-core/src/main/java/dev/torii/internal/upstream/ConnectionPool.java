package dev.torii.internal.upstream;

import dev.torii.ProxyError;
import dev.torii.internal.http1.CompactTrailers;
import dev.torii.internal.http1.UpstreamCodec;
import dev.torii.internal.tls.ClientTls;
import dev.torii.upstream.ConnectFailure;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.Upstream;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream connections of one event loop, by upstream, protocol, endpoint address and TLS name. Nothing here is
 * shared with other loops, so nothing is locked: an exchange always borrows from its own loop's pool, and the
 * connection it gets runs on the same thread as the client connection.
 *
 * <p>HTTP/1.1 (plain or TLS), per endpoint: up to {@code maxConnectionsPerEndpoint} connections; idle ones kept LIFO
 * (the warmest first) up to {@code maxIdlePerEndpoint} and closed after {@code idleTimeout}; when all are busy, up to
 * {@code maxPendingAcquires} requests wait (at most {@code connectTimeout}) for one to come back, and more get
 * {@link ProxyError#POOL_EXHAUSTED}. A connect whose exchange
 * left before it completed (its client reset the stream) is taken over by the next exchange of the endpoint rather
 * than another connect opened, and the connection goes idle when nobody took it (see {@link Connecting}).
 *
 * <p>HTTP/2 (h2c or TLS h2), per endpoint: up to {@code maxConnectionsPerEndpoint} shared connections; an exchange
 * gets a new stream on the oldest connection with room ({@code SETTINGS_MAX_CONCURRENT_STREAMS} not reached, no GOAWAY
 * received), so load packs onto few connections and the others idle out. A new connection takes streams once the
 * upstream's first SETTINGS arrived; until then exchanges wait for it, and when they are more than the connections
 * being opened can carry (the last {@code SETTINGS_MAX_CONCURRENT_STREAMS} seen from the endpoint, else 100), more are
 * opened at once. A connection without streams is closed after {@code idleTimeout}; one with no frames for
 * {@link #pingAfterNanos} (30 s) is sent a PING and closed if the ACK does not come within {@code connectTimeout}.
 *
 * <p>TLS: the handshake is part of connecting; a failure is {@link ProxyError#CONNECT_FAILED}, logged once per
 * connection with the endpoint and the reason (untrusted certificate, name mismatch, no h2 by ALPN).
 */
public final class ConnectionPool {
    private static final Logger log = LoggerFactory.getLogger(ConnectionPool.class);

    /** Reports the outcome of {@link #acquire}. Called on the pool's event loop. */
    public interface AcquireCallback {
        void acquired(UpstreamConnection connection);

        void failed(ProxyError error, Throwable cause);
    }

    /** A pending acquire that the caller can cancel (the client went away). */
    public interface Pending {
        void cancel();
    }

    private static final long SWEEP_MILLIS = 1000;
    /** A stream's receive window: what one exchange may have in flight from the upstream before its client reads. */
    static final int STREAM_WINDOW = 128 * 1024;
    /** The connection's receive window (see {@link Http2UpstreamConnection#channelActive}). */
    static final int CONNECTION_WINDOW = 16 * 1024 * 1024;
    /** Streams a connection is assumed to take before the endpoint has said (RFC 9113 recommends at least 100). */
    private static final int ASSUMED_STREAMS = 100;
    /** HTTP/2 frames of a stream to and from {@code HttpObject}s; sharable (it keeps no state per stream). */
    private static final Http2StreamFrameToHttpObjectCodec STREAM_CODEC = new Http2StreamFrameToHttpObjectCodec(false);
    /** An HTTP/2 connection silent for this long is sent a PING. Not final only so that a test can shorten it. */
    static volatile long pingAfterNanos = TimeUnit.SECONDS.toNanos(30);

    private final EventLoop loop;
    private final Bootstrap bootstrap;
    private final LongAdder opened;
    private final LongAdder failed;
    /** The endpoint pools, by identity (and by client for upstreams that send PROXY protocol headers). */
    private final EndpointPools pools;

    private final UpstreamCounters counters;

    private ScheduledFuture<?> sweeper;
    private boolean closed;

    /** The pool of {@code loop}, opening {@code channelClass} connections and counting them in {@code opened}. */
    public ConnectionPool(EventLoop loop, Class<? extends Channel> channelClass, LongAdder opened) {
        this(loop, channelClass, opened, new LongAdder());
    }

    /**
     * The pool of {@code loop}, opening {@code channelClass} connections: those that became usable (connected, TLS and
     * for HTTP/2 the peer's SETTINGS) are counted in {@code opened}, those that did not in {@code failed}.
     */
    public ConnectionPool(EventLoop loop, Class<? extends Channel> channelClass, LongAdder opened, LongAdder failed) {
        this(loop, channelClass, opened, failed, new UpstreamCounters());
    }

    /**
     * As {@link #ConnectionPool(EventLoop, Class, LongAdder, LongAdder)}, also counting connects by upstream and reason
     * and publishing this loop's in-use and idle connections in {@code counters}.
     */
    public ConnectionPool(
            EventLoop loop,
            Class<? extends Channel> channelClass,
            LongAdder opened,
            LongAdder failed,
            UpstreamCounters counters) {
        this.counters = counters;
        // This loop's in-use and idle counts by upstream name, summed with the other loops' by the counters.
        this.pools = new EndpointPools(counters.newPool());
        this.failed = failed;
        this.loop = loop;
        this.opened = opened;
        this.bootstrap = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.AUTO_READ, false);
    }

    /**
     * Borrows a connection (HTTP/1.1) or a new stream (HTTP/2) to {@code address} for {@code upstream}: for HTTP/1.1
     * an idle connection unless {@code fresh}, else a new one when the limit allows, else a place in the wait queue;
     * for HTTP/2 a stream on a connection with room, else a place in the wait queue while connections open
     * ({@code fresh} does not apply: a connection that failed is never used again). Returns a handle while the
     * caller waits, or null.
     */
    public Pending acquire(
            UpstreamState state,
            Endpoint endpoint,
            InetSocketAddress address,
            boolean fresh,
            AcquireCallback callback) {
        return acquire(state, endpoint, address, null, null, fresh, callback);
    }

    /**
     * As {@link #acquire(UpstreamState, Endpoint, InetSocketAddress, boolean, AcquireCallback)} for an exchange of
     * {@code client} that reached Torii at {@code local}: when the upstream sends PROXY protocol headers, a new
     * connection's header carries them, and only connections opened for the same client IP and listener address are
     * reused (either may be null: the header then says the client is unknown).
     */
    public Pending acquire(
            UpstreamState state,
            Endpoint endpoint,
            InetSocketAddress address,
            InetSocketAddress client,
            InetSocketAddress local,
            boolean fresh,
            AcquireCallback callback) {
        EndpointPool[] touched = new EndpointPool[1];
        try {
            return acquire(state, endpoint, address, client, local, fresh, callback, touched);
        } finally {
            if (touched[0] != null) {
                publish(touched[0]);
            }
        }
    }

    private Pending acquire(
            UpstreamState state,
            Endpoint endpoint,
            InetSocketAddress address,
            InetSocketAddress client,
            InetSocketAddress local,
            boolean fresh,
            AcquireCallback callback,
            EndpointPool[] touched) {
        if (closed) {
            callback.failed(ProxyError.CONNECT_FAILED, new IllegalStateException("gateway is shutting down"));
            return null;
        }
        Upstream upstream = state.upstream;
        String tlsName = upstream.protocol().tls() ? ClientTls.peerName(upstream, endpoint) : null;
        EndpointPool pool = pools.get(upstream, address, tlsName, client, local);
        touched[0] = pool;
        pool.state = state;
        pool.settings = upstream;
        if (sweeper == null) {
            sweeper = loop.scheduleAtFixedRate(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        }
        if (upstream.protocol().http2()) {
            return acquireStream(pool, callback);
        }
        UpstreamConnection c;
        while (!fresh && (c = pool.idle.pollFirst()) != null) {
            if (c.channel.isActive()) {
                callback.acquired(c);
                return null;
            }
        }
        Connecting orphan = pool.orphans.pollFirst();
        if (orphan != null) {
            // A connect whose exchange left (its client stream was reset) is adopted rather than another opened.
            orphan.callback = callback;
            return orphan.handleFor(callback);
        }
        if (pool.open < upstream.maxConnectionsPerEndpoint()) {
            return connect(pool, callback).handleFor(callback);
        }
        if (pool.waiters.size() >= upstream.maxPendingAcquires()) {
            callback.failed(
                    ProxyError.POOL_EXHAUSTED,
                    new IllegalStateException("all " + pool.open + " connections to " + address + " are busy and "
                            + pool.waiters.size() + " requests wait already"));
            return null;
        }
        return enqueue(pool, callback);
    }

    private Waiter enqueue(EndpointPool pool, AcquireCallback callback) {
        Waiter w = new Waiter(pool, callback);
        pool.waiters.addLast(w);
        w.timeout = loop.schedule(w::expire, pool.settings.connectTimeout().toNanos(), TimeUnit.NANOSECONDS);
        return w;
    }

    // ------------------------------------------------------------------ HTTP/1.1

    private Connecting connect(EndpointPool pool, AcquireCallback callback) {
        pool.open++;
        UpstreamConnection connection = new UpstreamConnection(pool);
        Connecting attempt = new Connecting(pool, callback);
        Upstream settings = pool.settings;
        SslContext ssl = pool.state.sslContext;
        ChannelFuture f = bootstrap
                .clone()
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis(settings))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        EndpointPools.addProxyHeader(ch, pool); // the PROXY protocol header first
                        if (ssl != null) {
                            ch.pipeline().addLast("tls", sslHandler(ch, ssl, pool));
                        }
                        ch.pipeline()
                                .addLast(
                                        "codec",
                                        new UpstreamCodec(CompactTrailers.applyTo(new HttpDecoderConfig()
                                                .setMaxInitialLineLength(8192)
                                                .setMaxHeaderSize(64 * 1024)
                                                .setMaxChunkSize(64 * 1024)
                                                .setStrictLineParsing(true))))
                                .addLast("upstream", connection);
                    }
                })
                .connect(pool.address);
        connection.channel = f.channel();
        f.channel().closeFuture().addListener(x -> onClosed(connection));
        f.addListener(done -> {
            if (!done.isSuccess()) {
                failed.increment();
                counters.connectFailed(settings.name(), UpstreamCounters.reasonOf(done.cause()));
                AcquireCallback owner = attempt.finish();
                if (owner != null) {
                    failConnect(owner, done.cause());
                }
                return;
            }
            SslHandler tls = f.channel().pipeline().get(SslHandler.class);
            if (tls == null) {
                opened.increment();
                counters.connected(settings.name());
                attempt.connected(connection);
                publish(pool);
                return;
            }
            tls.handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    opened.increment();
                    counters.connected(settings.name());
                    attempt.connected(connection);
                    publish(pool);
                } else {
                    failed.increment();
                    // Whatever the cause (an alert, a close, the handshake timeout), it failed at the TLS stage.
                    counters.connectFailed(settings.name(), ConnectFailure.TLS);
                    logTlsFailure(pool, h.cause());
                    f.channel().close();
                    AcquireCallback owner = attempt.finish();
                    if (owner != null) {
                        owner.failed(ProxyError.CONNECT_FAILED, h.cause());
                    }
                }
            });
        });
        return attempt;
    }

    private static void failConnect(AcquireCallback callback, Throwable cause) {
        callback.failed(
                cause instanceof ConnectTimeoutException ? ProxyError.UPSTREAM_TIMEOUT : ProxyError.CONNECT_FAILED,
                cause);
    }

    private static int connectTimeoutMillis(Upstream settings) {
        return (int) Math.min(Integer.MAX_VALUE, settings.connectTimeout().toMillis());
    }

    private static SslHandler sslHandler(Channel ch, SslContext ssl, EndpointPool pool) {
        SslHandler h = ssl.newHandler(ch.alloc(), pool.tlsName, pool.address.getPort());
        h.setHandshakeTimeoutMillis(connectTimeoutMillis(pool.settings));
        return h;
    }

    private static void logTlsFailure(EndpointPool pool, Throwable cause) {
        log.warn(
                "TLS to upstream '{}' endpoint {} (name {}) failed: {}",
                pool.settings.name(),
                pool.address,
                pool.tlsName,
                ClientTls.reason(cause));
    }

    /** Gives a connection back: kept for reuse when {@code reusable}, closed otherwise. A stream is always closed. */
    public void release(UpstreamConnection connection, boolean reusable) {
        release0(connection, reusable);
        publish(connection.pool);
    }

    private void release0(UpstreamConnection connection, boolean reusable) {
        connection.detach();
        EndpointPool pool = connection.pool;
        if (connection.parent != null) {
            // A finished stream closes without a frame; an unfinished one is reset (CANCEL). The close listener counts
            // it.
            if (connection.channel != null) {
                connection.channel.close();
            }
            return;
        }
        if (!reusable || closed || !connection.channel.isActive()) {
            connection.channel.close();
            return;
        }
        connection.reused = true;
        offer(connection);
    }

    /** A usable HTTP/1.1 connection no exchange holds: to the first waiter, else idle (within the idle limit). */
    private void offer(UpstreamConnection connection) {
        EndpointPool pool = connection.pool;
        if (closed || !connection.channel.isActive()) {
            connection.channel.close();
            return;
        }
        Waiter w = pool.waiters.pollFirst();
        if (w != null) {
            w.queued = false;
            w.timeout.cancel(false);
            w.callback.acquired(connection);
            return;
        }
        if (pool.idle.size() >= pool.settings.maxIdlePerEndpoint()) {
            connection.channel.close();
            return;
        }
        connection.idleSinceNanos = loop.ticker().nanoTime();
        pool.idle.addFirst(connection);
        // Keep a read pending: a close by the upstream then shows up as channelInactive at once.
        connection.channel.read();
    }

    /** Connections open or opening to {@code address} (any upstream, protocol and TLS name), for tests. */
    int openTo(InetSocketAddress address) {
        return pools.openTo(address);
    }

    private void onClosed(UpstreamConnection connection) {
        EndpointPool pool = connection.pool;
        pool.open--;
        pool.idle.remove(connection);
        Waiter w = pool.waiters.pollFirst();
        if (w != null && !closed) {
            w.queued = false;
            w.timeout.cancel(false);
            w.connecting = connect(pool, w.callback);
        }
        publish(pool);
    }

    /**
     * An HTTP/1.1 connect in progress, for the exchange that asked for it. When that exchange leaves first (its
     * client reset the stream), the connect is not cancelled: the first exchange waiting for a connection takes it
     * over, else the next acquire adopts it, else the connection goes idle once connected. Cancelling it instead
     * would let a client that opens and resets streams open and close upstream connections at its own pace; this way
     * a burst of such streams costs at most the connects already in progress.
     */
    private final class Connecting {
        final EndpointPool pool;
        /** The exchange's callback; null once the exchange left (an orphan) or the connect ended. */
        AcquireCallback callback;

        boolean done;

        Connecting(EndpointPool pool, AcquireCallback callback) {
            this.pool = pool;
            this.callback = callback;
        }

        /** The handle of the exchange behind {@code owner}: it cancels the connect only while that exchange holds it. */
        Pending handleFor(AcquireCallback owner) {
            return () -> cancelFor(owner);
        }

        /** The exchange behind {@code owner} left: the connect passes to a waiter, or waits to be adopted. */
        void cancelFor(AcquireCallback owner) {
            if (done || callback != owner) {
                return;
            }
            Waiter w = pool.waiters.pollFirst();
            if (w != null) {
                w.queued = false;
                w.timeout.cancel(false);
                w.connecting = this;
                callback = w.callback;
                return;
            }
            callback = null;
            pool.orphans.addLast(this);
        }

        /** The connect ended: returns the callback of the exchange that holds it, or null when none does. */
        AcquireCallback finish() {
            done = true;
            pool.orphans.remove(this);
            AcquireCallback owner = callback;
            callback = null;
            return owner;
        }

        void connected(UpstreamConnection connection) {
            AcquireCallback owner = finish();
            if (owner != null) {
                owner.acquired(connection);
            } else {
                offer(connection);
            }
        }
    }

    // ------------------------------------------------------------------ HTTP/2

    private Pending acquireStream(EndpointPool pool, AcquireCallback callback) {
        if (pool.waiters.isEmpty()) {
            Http2UpstreamConnection c = pool.withRoom();
            if (c != null) {
                openStream(c, callback);
                return null;
            }
        }
        boolean capacityComing = pool.open < pool.settings.maxConnectionsPerEndpoint()
                || pool.connectingCapacity() > pool.waiters.size();
        if (!capacityComing && pool.waiters.size() >= pool.settings.maxPendingAcquires()) {
            callback.failed(
                    ProxyError.POOL_EXHAUSTED,
                    new IllegalStateException("all " + pool.open + " HTTP/2 connections to " + pool.address
                            + " carry their maximum of streams and " + pool.waiters.size()
                            + " requests wait already"));
            return null;
        }
        Waiter w = enqueue(pool, callback);
        serveWaiters(pool);
        return w.queued ? w : null;
    }

    /** Gives waiting exchanges streams on connections with room, and opens connections for those left. */
    private void serveWaiters(EndpointPool pool) {
        serveWaiters(pool, true);
    }

    private void serveWaiters(EndpointPool pool, boolean mayConnect) {
        Waiter w;
        Http2UpstreamConnection c;
        while ((w = pool.waiters.peekFirst()) != null && (c = pool.withRoom()) != null) {
            pool.waiters.pollFirst();
            w.queued = false;
            w.timeout.cancel(false);
            openStream(c, w.callback);
        }
        if (closed || !mayConnect) {
            return;
        }
        if (pool.lastMaxStreams == 0) {
            // The endpoint takes no streams for now (SETTINGS_MAX_CONCURRENT_STREAMS 0): more connections would not
            // help; the waiters get streams when it raises the limit, or time out.
            return;
        }
        int perConnection = pool.lastMaxStreams > 0 ? pool.lastMaxStreams : ASSUMED_STREAMS;
        int uncovered = pool.waiters.size() - pool.connectingCapacity();
        while (uncovered > 0 && pool.open < pool.settings.maxConnectionsPerEndpoint()) {
            connectHttp2(pool);
            uncovered -= perConnection;
        }
    }

    private void openStream(Http2UpstreamConnection parent, AcquireCallback callback) {
        parent.streams++;
        parent.served++;
        UpstreamConnection stream = new UpstreamConnection(parent.pool, parent);
        stream.reused = parent.served > 1;
        // On the parent's event loop (ours), the open completes before open() returns.
        parent.streamBootstrap.open().addListener(f -> {
            if (f.isSuccess()) {
                Http2StreamChannel ch = (Http2StreamChannel) f.getNow();
                ch.pipeline().addLast("codec", STREAM_CODEC).addLast("upstream", stream);
                stream.channel = ch;
                ch.closeFuture().addListener(x -> streamClosed(parent));
                callback.acquired(stream);
                publish(parent.pool);
            } else {
                streamClosed(parent);
                callback.failed(ProxyError.UPSTREAM_RESET, f.cause());
            }
        });
    }

    private void streamClosed(Http2UpstreamConnection parent) {
        streamClosed0(parent);
        publish(parent.pool);
    }

    private void streamClosed0(Http2UpstreamConnection parent) {
        parent.streams--;
        if (parent.streams == 0) {
            parent.idleSinceNanos = loop.ticker().nanoTime();
            if (parent.draining || closed) {
                parent.channel.close();
                return;
            }
        }
        serveWaiters(parent.pool);
    }

    private void connectHttp2(EndpointPool pool) {
        pool.open++;
        Http2UpstreamConnection connection = new Http2UpstreamConnection(this, pool, CONNECTION_WINDOW);
        pool.http2.add(connection);
        Upstream settings = pool.settings;
        SslContext ssl = pool.state.sslContext;
        ChannelFuture f = bootstrap
                .clone()
                // Frames are read as they come: each stream's window bounds what can arrive for an exchange that
                // does not read, and its child channel is read on demand.
                .option(ChannelOption.AUTO_READ, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis(settings))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        EndpointPools.addProxyHeader(ch, pool); // the PROXY protocol header first
                        if (ssl != null) {
                            ch.pipeline().addLast("tls", sslHandler(ch, ssl, pool));
                        }
                        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                                .initialSettings(Http2Settings.defaultSettings()
                                        .pushEnabled(false)
                                        .initialWindowSize(STREAM_WINDOW)
                                        .maxHeaderListSize(64 * 1024))
                                .validateHeaders(true)
                                .build();
                        connection.http2 = codec.connection();
                        ch.pipeline()
                                .addLast("h2", codec)
                                .addLast("multiplex", new Http2MultiplexHandler(RejectPushes.INSTANCE))
                                .addLast("upstream", connection);
                    }
                })
                .connect(pool.address);
        connection.channel = f.channel();
        // One bootstrap for all the connection's streams: a stream is read only when its exchange asks.
        connection.streamBootstrap =
                new Http2StreamChannelBootstrap(f.channel()).option(ChannelOption.AUTO_READ, false);
        f.channel().closeFuture().addListener(x -> onHttp2Closed(connection));
        ScheduledFuture<?> readyTimeout = loop.schedule(
                () -> {
                    if (!connection.ready && connection.channel.isOpen()) {
                        if (connection.failure == null) {
                            connection.failure = new ConnectTimeoutException("no HTTP/2 SETTINGS from " + pool.address
                                    + " within " + settings.connectTimeout().toMillis() + " ms");
                        }
                        connection.channel.close();
                    }
                },
                settings.connectTimeout().toNanos(),
                TimeUnit.NANOSECONDS);
        connection.channel.closeFuture().addListener(x -> readyTimeout.cancel(false));
        f.addListener(done -> {
            if (!done.isSuccess()) {
                connection.failure = done.cause();
                return;
            }
            SslHandler tls = f.channel().pipeline().get(SslHandler.class);
            if (tls == null) {
                return;
            }
            tls.handshakeFuture().addListener(h -> {
                if (!h.isSuccess()) {
                    connection.failure = h.cause();
                    connection.failureReason = ConnectFailure.TLS;
                    logTlsFailure(pool, h.cause());
                    f.channel().close();
                } else if (!ApplicationProtocolNames.HTTP_2.equals(tls.applicationProtocol())) {
                    connection.failure = new SSLException("upstream '" + settings.name() + "' endpoint "
                            + pool.address + " did not select h2 by ALPN (selected: " + tls.applicationProtocol()
                            + ")");
                    connection.failureReason = ConnectFailure.TLS;
                    logTlsFailure(pool, connection.failure);
                    f.channel().close();
                }
            });
        });
    }

    /** The first SETTINGS arrived (or a later one changed the limits): waiting exchanges may get streams. */
    void http2Usable(Http2UpstreamConnection connection) {
        if (!connection.counted) {
            connection.counted = true;
            opened.increment();
            counters.connected(connection.pool.settings.name());
        }
        serveWaiters(connection.pool);
        publish(connection.pool);
    }

    /** GOAWAY received: no new streams; the connection closes when its last stream ends. */
    void http2Draining(Http2UpstreamConnection connection) {
        connection.draining = true;
        if (connection.streams == 0) {
            connection.channel.close();
        } else {
            serveWaiters(connection.pool);
        }
        publish(connection.pool);
    }

    private void onHttp2Closed(Http2UpstreamConnection connection) {
        onHttp2Closed0(connection);
        publish(connection.pool);
    }

    private void onHttp2Closed0(Http2UpstreamConnection connection) {
        EndpointPool pool = connection.pool;
        pool.open--;
        pool.http2.remove(connection);
        if (connection.ready) {
            serveWaiters(pool, true);
            return;
        }
        // It never became usable: refused, TLS failed, no h2 by ALPN, no SETTINGS in time.
        failed.increment();
        counters.connectFailed(
                pool.settings.name(),
                connection.failureReason != null
                        ? connection.failureReason
                        : connection.failure != null
                                ? UpstreamCounters.reasonOf(connection.failure)
                                // Closed by the peer before its SETTINGS (not an HTTP/2 server?).
                                : ConnectFailure.RESET);
        Throwable cause = connection.failure != null
                ? connection.failure
                : new IllegalStateException(
                        "HTTP/2 connection to " + pool.address + " closed before the upstream's SETTINGS");
        if (connection.failure == null) {
            log.warn(
                    "upstream '{}' endpoint {}: connection closed before HTTP/2 SETTINGS (not an HTTP/2 server?)",
                    pool.settings.name(),
                    pool.address);
        }
        if (pool.connectingCapacity() == 0 && pool.withLife() == null) {
            // Nothing else can carry the waiting exchanges: they fail, rather than have a new connection opened for
            // them that would fail the same way, over and over.
            Waiter w;
            while ((w = pool.waiters.pollFirst()) != null) {
                w.queued = false;
                w.timeout.cancel(false);
                failConnect(w.callback, cause);
            }
            return;
        }
        // Other connections are alive or opening: the waiters stay for them, and this failure opens no new one.
        serveWaiters(pool, false);
    }

    /** The handler of streams the upstream would push; pushes are disabled in our SETTINGS, so none should come. */
    private static final class RejectPushes extends ChannelInboundHandlerAdapter {
        static final RejectPushes INSTANCE = new RejectPushes();

        @Override
        public boolean isSharable() {
            return true;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            ctx.close();
        }
    }

    // ------------------------------------------------------------------ upkeep

    private void sweep() {
        long now = loop.ticker().nanoTime();
        pools.removeUnused(); // per-client pools (PROXY protocol) go once empty
        for (EndpointPool pool : pools.all()) {
            long timeout = pool.settings.idleTimeout().toNanos();
            UpstreamConnection oldest;
            while ((oldest = pool.idle.peekLast()) != null && now - oldest.idleSinceNanos >= timeout) {
                pool.idle.pollLast();
                oldest.channel.close();
            }
            if (pool.http2.isEmpty()) {
                continue;
            }
            long pingTimeout = pool.settings.connectTimeout().toNanos();
            for (Http2UpstreamConnection c : new ArrayList<>(pool.http2)) {
                if (!c.ready) {
                    continue;
                }
                if (c.streams == 0 && now - c.idleSinceNanos >= timeout) {
                    c.draining = true;
                    c.channel.close(); // Http2FrameCodec sends GOAWAY first
                } else if (c.pingSentNanos != 0) {
                    if (now - c.pingSentNanos >= pingTimeout) {
                        log.debug("upstream {} did not answer a PING; closing the connection", pool.address);
                        c.channel.close();
                    }
                } else if (now - c.lastReadNanos >= pingAfterNanos) {
                    c.ping(now);
                }
            }
            publish(pool);
        }
    }

    /**
     * Publishes {@code pool}'s in-use and idle connections into its upstream's gauge of this loop, as the change since
     * the last publication: idempotent, so every step that may change them calls it on its way out.
     */
    private static void publish(EndpointPool pool) {
        long idle = pool.idle.size();
        for (int i = 0; i < pool.http2.size(); i++) {
            Http2UpstreamConnection c = pool.http2.get(i);
            if (c.ready && c.streams == 0) {
                idle++;
            }
        }
        long inUse = Math.max(0, pool.open - idle);
        UpstreamCounters.PoolGauge g = pool.gauge;
        if (idle != pool.publishedIdle) {
            g.idle += idle - pool.publishedIdle; // single writer: this loop
            pool.publishedIdle = idle;
        }
        if (inUse != pool.publishedInUse) {
            g.inUse += inUse - pool.publishedInUse;
            pool.publishedInUse = inUse;
        }
    }

    /** {@link #close()} on the pool's own event loop. */
    public void closeAsync() {
        loop.execute(this::close);
    }

    /** Closes idle connections and refuses new acquires; busy connections close when their exchanges release them. */
    void close() {
        closed = true;
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        for (EndpointPool pool : pools.all()) {
            for (UpstreamConnection c : new ArrayList<>(pool.idle)) {
                c.channel.close();
            }
            pool.idle.clear();
            for (Http2UpstreamConnection c : new ArrayList<>(pool.http2)) {
                c.draining = true;
                if (c.streams == 0) {
                    c.channel.close();
                }
            }
            Waiter w;
            while ((w = pool.waiters.pollFirst()) != null) {
                w.queued = false;
                w.timeout.cancel(false);
                w.callback.failed(ProxyError.CONNECT_FAILED, new IllegalStateException("gateway is shutting down"));
            }
            publish(pool);
        }
    }

    /** Connections of one upstream to one address (for one client, when the upstream sends PROXY protocol headers). */
    static final class EndpointPool {
        final InetSocketAddress address;
        /** The name sent as SNI and verified, or null for plain TCP. */
        final String tlsName;

        final ArrayDeque<UpstreamConnection> idle = new ArrayDeque<>();
        final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
        /** HTTP/1.1 connects in progress whose exchange left: the next acquire adopts one (see {@link Connecting}). */
        final ArrayDeque<Connecting> orphans = new ArrayDeque<>();
        /** HTTP/2 connections, oldest first. */
        final ArrayList<Http2UpstreamConnection> http2 = new ArrayList<>();

        /** This loop's gauge of the upstream, and what this pool last added to it. */
        final UpstreamCounters.PoolGauge gauge;

        long publishedInUse;
        long publishedIdle;
        UpstreamState state;
        Upstream settings;
        /** Connections open or opening (HTTP/1.1 or HTTP/2). */
        int open;
        /** The last SETTINGS_MAX_CONCURRENT_STREAMS this endpoint sent, or -1 before it said any. */
        int lastMaxStreams = -1;
        /** Whether this pool holds one client's connections (the upstream sends PROXY protocol headers). */
        final boolean perClient;
        /** For PROXY protocol headers: the client of the latest acquire and where it reached Torii, or null. */
        InetSocketAddress client;

        InetSocketAddress local;

        EndpointPool(InetSocketAddress address, String tlsName, UpstreamCounters.PoolGauge gauge, boolean perClient) {
            this.address = address;
            this.tlsName = tlsName;
            this.gauge = gauge;
            this.perClient = perClient;
        }

        /**
         * A pool of one client's connections (PROXY protocol) with nothing open, opening or waiting: it can go. Its
         * gauge contribution is zero by then (every change publishes).
         */
        boolean unused() {
            return perClient
                    && open == 0
                    && waiters.isEmpty()
                    && orphans.isEmpty()
                    && idle.isEmpty()
                    && http2.isEmpty()
                    && publishedIdle == 0
                    && publishedInUse == 0;
        }

        /** The oldest HTTP/2 connection that can take a stream now, or null. */
        Http2UpstreamConnection withRoom() {
            for (int i = 0; i < http2.size(); i++) {
                Http2UpstreamConnection c = http2.get(i);
                if (c.hasRoom()) {
                    return c;
                }
            }
            return null;
        }

        /** A usable HTTP/2 connection, full or not (its streams will end), or null. */
        Http2UpstreamConnection withLife() {
            for (int i = 0; i < http2.size(); i++) {
                Http2UpstreamConnection c = http2.get(i);
                if (c.ready && !c.draining && !c.goAwayReceived() && c.channel.isActive()) {
                    return c;
                }
            }
            return null;
        }

        /** Streams the HTTP/2 connections still opening are expected to carry. */
        int connectingCapacity() {
            int perConnection = lastMaxStreams > 0 ? lastMaxStreams : ASSUMED_STREAMS;
            int n = 0;
            for (int i = 0; i < http2.size(); i++) {
                Http2UpstreamConnection c = http2.get(i);
                if (!c.ready && c.channel.isOpen()) {
                    n += perConnection;
                }
            }
            return n;
        }
    }

    private static final class Waiter implements Pending {
        final EndpointPool pool;
        final AcquireCallback callback;
        ScheduledFuture<?> timeout;
        boolean queued = true;
        /** The connect this waiter was given when it left the queue (HTTP/1.1), cancelled with it. */
        Connecting connecting;

        Waiter(EndpointPool pool, AcquireCallback callback) {
            this.pool = pool;
            this.callback = callback;
        }

        void expire() {
            if (pool.waiters.remove(this)) {
                queued = false;
                boolean connecting = pool.connectingCapacity() > 0;
                callback.failed(
                        connecting ? ProxyError.UPSTREAM_TIMEOUT : ProxyError.POOL_EXHAUSTED,
                        new IllegalStateException("no connection to " + pool.address + " came free within "
                                + pool.settings.connectTimeout().toMillis() + " ms"));
            }
        }

        @Override
        public void cancel() {
            if (pool.waiters.remove(this)) {
                queued = false;
                timeout.cancel(false);
            } else if (connecting != null) {
                connecting.cancelFor(callback);
            }
        }
    }
}
