package dev.torii.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;

/**
 * One keep-alive HTTP/1.1 connection to an endpoint, owned by the {@link ConnectionPool} of its event loop. While an
 * exchange uses it, everything the connection reads goes to that exchange's {@link UpstreamListener}; while it is
 * idle in the pool, a read stays pending so that a close by the upstream is noticed, and any bytes that arrive are
 * a protocol error that closes it.
 */
final class UpstreamConnection extends ChannelInboundHandlerAdapter {
    final ConnectionPool.EndpointPool pool;
    Channel channel;
    /** Whether the connection already served an exchange (a reused connection may have been closed by the peer). */
    boolean reused;

    long idleSinceNanos;
    private UpstreamListener listener;

    UpstreamConnection(ConnectionPool.EndpointPool pool) {
        this.pool = pool;
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
