package dev.torii.internal.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP/2 connection to an endpoint, shared by the exchanges of its event loop, each on its own stream. This handler
 * sits at the end of the connection's pipeline ({@code [SslHandler] → Http2FrameCodec → Http2MultiplexHandler →
 * this}) and sees the connection-level frames: the upstream's SETTINGS (the connection becomes usable with the first,
 * and {@code SETTINGS_MAX_CONCURRENT_STREAMS} caps its streams), GOAWAY (no new streams; it closes when its last
 * stream ends) and PING acknowledgements. The {@link ConnectionPool} counts its streams and decides when to use it,
 * open another or close it. Only touched on its event loop.
 */
final class Http2UpstreamConnection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Http2UpstreamConnection.class);

    final ConnectionPool.EndpointPool pool;
    Channel channel;
    /** Opens the streams of this connection. */
    Http2StreamChannelBootstrap streamBootstrap;
    /** The first SETTINGS from the upstream arrived: streams may be opened. */
    boolean ready;
    /** Counted as opened (at its first SETTINGS) in the pool's figures. */
    boolean counted;
    /** GOAWAY received (or the pool is closing it): no new streams. */
    boolean draining;
    /** Streams open now (child channels not yet closed). */
    int streams;
    /** Streams ever opened, to tell a fresh connection from a used one. */
    long served;
    /** The upstream's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited until it says otherwise). */
    int maxStreams = Integer.MAX_VALUE;

    long idleSinceNanos;
    long lastReadNanos;
    /** When the outstanding keepalive PING was sent, or 0. */
    long pingSentNanos;
    /** Why the connection failed before it became ready, for the waiting exchanges. */
    Throwable failure;
    /** The stage that failed when it is known better than from {@link #failure} (TLS), else null. */
    dev.torii.upstream.ConnectFailure failureReason;

    private final ConnectionPool owner;
    private final int connectionWindow;

    Http2UpstreamConnection(ConnectionPool owner, ConnectionPool.EndpointPool pool, int connectionWindow) {
        this.owner = owner;
        this.pool = pool;
        this.connectionWindow = connectionWindow;
    }

    /** The codec's view of the connection: whether a GOAWAY arrived, before this handler hears of it. */
    Http2Connection http2;

    /** Whether a new stream may go on this connection now. */
    boolean hasRoom() {
        return ready && !draining && !goAwayReceived() && streams < maxStreams && channel.isActive();
    }

    /**
     * Whether the codec has taken in a GOAWAY, which it does before this handler sees the frame: on receipt Netty
     * first closes the streams above the last-stream-id (their exchanges then retry at once, from inside that close)
     * and only then passes the frame on, so {@link #draining} is still false while those retries look for a
     * connection with room. Asking the codec keeps a retry of a refused stream off the connection that refused it (a
     * stream opened there fails at once, and the exchange, its one retry spent, answered 502).
     */
    boolean goAwayReceived() {
        return http2 != null && http2.goAwayReceived();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        long now = ctx.executor().ticker().nanoTime();
        idleSinceNanos = now;
        lastReadNanos = now;
        // The connection window starts at 64 KiB for all streams together, and a stream's bytes count against it until
        // its exchange reads them: one slow client would stall its siblings. Each stream stays bounded by its own
        // (smaller) window, so the proxy's memory is still bounded by streams x stream window.
        int increment = connectionWindow - Http2CodecUtil.DEFAULT_WINDOW_SIZE;
        if (increment > 0) {
            ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(increment));
        }
        ctx.fireChannelActive();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // Every socket read ends here, stream frames included (they go to the child channels, not to channelRead).
        lastReadNanos = ctx.executor().ticker().nanoTime();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof Http2SettingsFrame settings) {
                Long max = settings.settings().maxConcurrentStreams();
                if (max != null) {
                    maxStreams = (int) Math.min(Integer.MAX_VALUE, max);
                    pool.lastMaxStreams = maxStreams;
                }
                ready = true;
                owner.http2Usable(this);
            } else if (msg instanceof Http2GoAwayFrame goAway) {
                log.debug(
                        "upstream {} sent GOAWAY (last stream {}, error {}); no new streams on this connection",
                        pool.address,
                        goAway.lastStreamId(),
                        goAway.errorCode());
                owner.http2Draining(this);
            } else if (msg instanceof Http2PingFrame ping && ping.ack()) {
                pingSentNanos = 0;
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Sends a keepalive PING; {@link #pingSentNanos} is cleared by its ACK. */
    void ping(long now) {
        pingSentNanos = now == 0 ? 1 : now;
        channel.writeAndFlush(new DefaultHttp2PingFrame(now));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (failure == null && !ready) {
            failure = cause;
        }
        if (!(cause instanceof IOException)) {
            log.debug("HTTP/2 connection to {} failed", pool.address, cause);
        }
        ctx.close();
    }
}
