package dev.torii.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * What an exchange talks to upstream: one keep-alive HTTP/1.1 connection to an endpoint, or one stream of a shared
 * HTTP/2 connection ({@link #parent} is then set and {@link #channel} is the stream's child channel, which speaks
 * {@code HttpObject}s through Netty's {@code Http2StreamFrameToHttpObjectCodec}). Owned by the {@link ConnectionPool}
 * of its event loop. While an exchange uses it, everything it reads goes to that exchange's {@link UpstreamListener};
 * while an HTTP/1.1 connection is idle in the pool, a read stays pending so that a close by the upstream is noticed,
 * and any bytes that arrive are a protocol error that closes it.
 */
final class UpstreamConnection extends ChannelInboundHandlerAdapter {
    final ConnectionPool.EndpointPool pool;
    /** The shared HTTP/2 connection this stream belongs to, or null for an HTTP/1.1 connection. */
    final Http2UpstreamConnection parent;

    Channel channel;
    /**
     * Whether a failure before any response may be a stale connection rather than the request's fault, so that an
     * idempotent request without a body may be retried once on a fresh connection: an HTTP/1.1 connection that served
     * an exchange before (the peer may have closed it meanwhile), or an HTTP/2 stream on a connection that did, or
     * that the upstream refused unprocessed (GOAWAY with a lower last-stream-id, or RST_STREAM REFUSED_STREAM).
     */
    boolean reused;

    long idleSinceNanos;
    private UpstreamListener listener;

    UpstreamConnection(ConnectionPool.EndpointPool pool) {
        this(pool, null);
    }

    UpstreamConnection(ConnectionPool.EndpointPool pool, Http2UpstreamConnection parent) {
        this.pool = pool;
        this.parent = parent;
    }

    void attach(UpstreamListener listener) {
        this.listener = listener;
    }

    void detach() {
        this.listener = null;
    }

    boolean isAttached() {
        return listener != null;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        UpstreamListener l = listener;
        if (l != null && msg instanceof HttpObject http) {
            if (parent != null && msg instanceof HttpResponse response) {
                // Netty's HTTP/2 to HTTP/1 translation adds the stream id as a header; it is ours, not the upstream's.
                response.headers().remove(HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text());
                if (msg instanceof FullHttpResponse full && full.status().code() >= 200) {
                    // A response whose HEADERS ended the stream (204, 304, HEAD, an empty body) is decoded as one full
                    // message; the exchange relays a head and then content, as from an HTTP/1.1 upstream.
                    l.onUpstreamMessage(new DefaultHttpResponse(full.protocolVersion(), full.status(), full.headers()));
                    if (listener == l) {
                        l.onUpstreamMessage(new DefaultLastHttpContent(full.content(), full.trailingHeaders()));
                    } else {
                        full.release();
                    }
                    return;
                }
            }
            l.onUpstreamMessage(http);
        } else {
            ReferenceCountUtil.release(msg);
            ctx.close();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        if (l != null) {
            l.onUpstreamReadComplete();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        listener = null;
        if (l != null) {
            l.onUpstreamInactive();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2GoAwayFrame goAway) {
            // Sent to streams above the GOAWAY's last-stream-id: the upstream did not process them.
            reused = true;
            goAway.release();
            return;
        }
        if (evt instanceof Http2ResetFrame reset && reset.errorCode() == Http2Error.REFUSED_STREAM.code()) {
            reused = true;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        UpstreamListener l = listener;
        if (l != null) {
            l.onUpstreamWritabilityChanged(ctx.channel().isWritable());
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A reset or a decoding failure: closing reports channelInactive to the listener.
        ctx.close();
    }
}
