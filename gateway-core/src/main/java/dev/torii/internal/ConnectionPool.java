package dev.torii.internal;

import dev.torii.ProxyError;
import dev.torii.upstream.Upstream;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The upstream connections of one event loop, by upstream and endpoint address. Nothing here is shared with other
 * loops, so nothing is locked: an exchange always borrows from its own loop's pool, and the connection it gets runs
 * on the same thread as the client connection.
 *
 * <p>Per endpoint: up to {@code maxConnectionsPerEndpoint} connections; idle ones kept LIFO (the warmest first) up
 * to {@code maxIdlePerEndpoint} and closed after {@code idleTimeout}; when all are busy, up to
 * {@code maxPendingAcquires} requests wait (at most {@code connectTimeout}) for one to come back, and more get
 * {@link ProxyError#POOL_EXHAUSTED}.
 */
final class ConnectionPool {
    /** Reports the outcome of {@link #acquire}. Called on the pool's event loop. */
    interface AcquireCallback {
        void acquired(UpstreamConnection connection);

        void failed(ProxyError error, Throwable cause);
    }

    /** A pending acquire that the caller can cancel (the client went away). */
    interface Pending {
        void cancel();
    }

    private record Key(String upstream, InetSocketAddress address) {}

    private static final long SWEEP_MILLIS = 1000;

    private final EventLoop loop;
    private final Bootstrap bootstrap;
    private final LongAdder opened;
    private final Map<Key, EndpointPool> pools = new HashMap<>();
    private ScheduledFuture<?> sweeper;
    private boolean closed;

    ConnectionPool(EventLoop loop, Class<? extends Channel> channelClass, LongAdder opened) {
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
     * Borrows a connection to {@code address} for {@code upstream}: an idle one unless {@code fresh}, else a new one
     * when the limit allows, else a place in the wait queue. Returns a handle while the caller waits, or null.
     */
    Pending acquire(Upstream upstream, InetSocketAddress address, boolean fresh, AcquireCallback callback) {
        if (closed) {
            callback.failed(ProxyError.CONNECT_FAILED, new IllegalStateException("gateway is shutting down"));
            return null;
        }
        EndpointPool pool = pools.computeIfAbsent(new Key(upstream.name(), address), k -> new EndpointPool(address));
        pool.settings = upstream;
        if (sweeper == null) {
            sweeper = loop.scheduleAtFixedRate(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        }
        UpstreamConnection c;
        while (!fresh && (c = pool.idle.pollFirst()) != null) {
            if (c.channel.isActive()) {
                callback.acquired(c);
                return null;
            }
        }
        if (pool.open < upstream.maxConnectionsPerEndpoint()) {
            connect(pool, callback);
            return null;
        }
        if (pool.waiters.size() >= upstream.maxPendingAcquires()) {
            callback.failed(
                    ProxyError.POOL_EXHAUSTED,
                    new IllegalStateException("all " + pool.open + " connections to " + address + " are busy and "
                            + pool.waiters.size() + " requests wait already"));
            return null;
        }
        Waiter w = new Waiter(pool, callback);
        pool.waiters.addLast(w);
        w.timeout = loop.schedule(w::expire, upstream.connectTimeout().toNanos(), TimeUnit.NANOSECONDS);
        return w;
    }

    private void connect(EndpointPool pool, AcquireCallback callback) {
        pool.open++;
        opened.increment();
        UpstreamConnection connection = new UpstreamConnection(pool);
        Upstream settings = pool.settings;
        ChannelFuture f = bootstrap
                .clone()
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int)
                        Math.min(Integer.MAX_VALUE, settings.connectTimeout().toMillis()))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast(
                                        "codec",
                                        new HttpClientCodec(
                                                new HttpDecoderConfig()
                                                        .setMaxInitialLineLength(8192)
                                                        .setMaxHeaderSize(64 * 1024)
                                                        .setMaxChunkSize(64 * 1024)
                                                        .setStrictLineParsing(true),
                                                false,
                                                false))
                                .addLast("upstream", connection);
                    }
                })
                .connect(pool.address);
        connection.channel = f.channel();
        f.channel().closeFuture().addListener(x -> onClosed(connection));
        f.addListener(done -> {
            if (done.isSuccess()) {
                callback.acquired(connection);
            } else {
                Throwable cause = done.cause();
                callback.failed(
                        cause instanceof ConnectTimeoutException
                                ? ProxyError.UPSTREAM_TIMEOUT
                                : ProxyError.CONNECT_FAILED,
                        cause);
            }
        });
    }

    /** Gives a connection back: kept for reuse when {@code reusable}, closed otherwise. */
    void release(UpstreamConnection connection, boolean reusable) {
        connection.detach();
        EndpointPool pool = connection.pool;
        if (!reusable || closed || !connection.channel.isActive()) {
            connection.channel.close();
            return;
        }
        connection.reused = true;
        Waiter w = pool.waiters.pollFirst();
        if (w != null) {
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

    private void onClosed(UpstreamConnection connection) {
        EndpointPool pool = connection.pool;
        pool.open--;
        pool.idle.remove(connection);
        Waiter w = pool.waiters.pollFirst();
        if (w != null && !closed) {
            w.timeout.cancel(false);
            connect(pool, w.callback);
        }
    }

    private void sweep() {
        long now = loop.ticker().nanoTime();
        for (EndpointPool pool : pools.values()) {
            long timeout = pool.settings.idleTimeout().toNanos();
            UpstreamConnection oldest;
            while ((oldest = pool.idle.peekLast()) != null && now - oldest.idleSinceNanos >= timeout) {
                pool.idle.pollLast();
                oldest.channel.close();
            }
        }
    }

    /** {@link #close()} on the pool's own event loop. */
    void closeAsync() {
        loop.execute(this::close);
    }

    /** Closes idle connections and refuses new acquires; busy connections close when their exchanges release them. */
    void close() {
        closed = true;
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        for (EndpointPool pool : pools.values()) {
            for (UpstreamConnection c : new ArrayList<>(pool.idle)) {
                c.channel.close();
            }
            pool.idle.clear();
            Waiter w;
            while ((w = pool.waiters.pollFirst()) != null) {
                w.timeout.cancel(false);
                w.callback.failed(ProxyError.CONNECT_FAILED, new IllegalStateException("gateway is shutting down"));
            }
        }
    }

    /** Connections of one upstream to one address. */
    static final class EndpointPool {
        final InetSocketAddress address;
        final ArrayDeque<UpstreamConnection> idle = new ArrayDeque<>();
        final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
        Upstream settings;
        int open;

        EndpointPool(InetSocketAddress address) {
            this.address = address;
        }
    }

    private static final class Waiter implements Pending {
        final EndpointPool pool;
        final AcquireCallback callback;
        ScheduledFuture<?> timeout;

        Waiter(EndpointPool pool, AcquireCallback callback) {
            this.pool = pool;
            this.callback = callback;
        }

        void expire() {
            if (pool.waiters.remove(this)) {
                callback.failed(
                        ProxyError.POOL_EXHAUSTED,
                        new IllegalStateException("no connection to " + pool.address + " came free within "
                                + pool.settings.connectTimeout().toMillis() + " ms"));
            }
        }

        @Override
        public void cancel() {
            if (pool.waiters.remove(this)) {
                timeout.cancel(false);
            }
        }
    }
}
