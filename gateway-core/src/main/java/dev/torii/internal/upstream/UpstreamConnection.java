package dev.torii.internal.upstream;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
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
public final class UpstreamConnection extends ChannelDuplexHandler {
    final ConnectionPool.EndpointPool pool;
    /** The shared HTTP/2 connection this stream belongs to, or null for an HTTP/1.1 connection. */
    public final Http2UpstreamConnection parent;

    /** The channel of this connection (an HTTP/2 stream channel for a stream); read and written on its event loop. */
    public Channel channel;
    /**
     * Whether a failure before any response may be a stale connection rather than the request's fault, so that an
     * idempotent request without a body may be retried once on a fresh connection: an HTTP/1.1 connection that served
     * an exchange before (the peer may have closed it meanwhile), or an HTTP/2 stream on a connection that did, or
     * that the upstream refused unprocessed (GOAWAY with a lower last-stream-id, or RST_STREAM REFUSED_STREAM).
     */
    public boolean reused;
    /**
     * The upstream refused this stream unprocessed (GOAWAY with a lower last-stream-id, or RST_STREAM REFUSED_STREAM):
     * RFC 9113 section 8.7 makes such a request safe to send again, even more than once.
     */
    public boolean refused;

    long idleSinceNanos;
    private UpstreamListener listener;
    /** A bodiless request head held back to go out with its end as one HEADERS frame (HTTP/2 only). */
    private HttpRequest heldHead;

    private ChannelPromise heldPromise;

    UpstreamConnection(ConnectionPool.EndpointPool pool) {
        this(pool, null);
    }

    UpstreamConnection(ConnectionPool.EndpointPool pool, Http2UpstreamConnection parent) {
        this.pool = pool;
        this.parent = parent;
    }

    /** Makes {@code listener} the receiver of this connection's responses and events, on the connection's loop. */
    public void attach(UpstreamListener listener) {
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
            refused = true;
            goAway.release();
            return;
        }
        if (evt instanceof Http2ResetFrame reset && reset.errorCode() == Http2Error.REFUSED_STREAM.code()) {
            reused = true;
            refused = true;
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

    /**
     * On an HTTP/2 stream, a request head without a body waits for its (empty) end, so that both go out as one HEADERS
     * frame with END_STREAM instead of HEADERS and an empty DATA frame; a flush sends a held head alone.
     */
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (parent == null) {
            ctx.write(msg, promise);
            return;
        }
        if (msg instanceof HttpRequest head
                && !(msg instanceof HttpContent)
                && !HttpUtil.isTransferEncodingChunked(head)
                && HttpUtil.getContentLength(head, 0L) == 0) {
            flushHeld(ctx);
            heldHead = head;
            heldPromise = promise;
            return;
        }
        HttpRequest head = heldHead;
        if (head != null
                && msg instanceof LastHttpContent last
                && !last.content().isReadable()
                && last.trailingHeaders().isEmpty()) {
            heldHead = null;
            ChannelPromise headPromise = heldPromise;
            heldPromise = null;
            last.release();
            var whole = new DefaultFullHttpRequest(
                    head.protocolVersion(),
                    head.method(),
                    head.uri(),
                    Unpooled.EMPTY_BUFFER,
                    head.headers(),
                    LastHttpContent.EMPTY_LAST_CONTENT.trailingHeaders());
            writeHead(ctx, whole, head, headPromise);
            if (!promise.isVoid()) {
                promise.setSuccess();
            }
            return;
        }
        flushHeld(ctx);
        ctx.write(msg, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        flushHeld(ctx);
        ctx.flush();
    }

    private void flushHeld(ChannelHandlerContext ctx) {
        HttpRequest head = heldHead;
        if (head != null) {
            heldHead = null;
            ChannelPromise p = heldPromise;
            heldPromise = null;
            writeHead(ctx, head, head, p);
        }
    }

    private static void writeHead(ChannelHandlerContext ctx, HttpRequest msg, HttpRequest head, ChannelPromise p) {
        ctx.write(msg, p);
        // Netty's HTTP/2 encoder leaves the :scheme it used in the headers as an extension header; not ours to keep.
        head.headers().remove(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A reset or a decoding failure: closing reports channelInactive to the listener.
        ctx.close();
    }
}
