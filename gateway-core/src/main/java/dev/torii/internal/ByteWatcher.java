package dev.torii.internal;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Sits in front of the HTTP decoder and tells the {@link ProxyHandler} that bytes arrived, so that an idle keep-alive
 * connection switches from the idle timeout to the header read timeout at the first byte of the next request.
 */
final class ByteWatcher extends ChannelInboundHandlerAdapter {
    private final ProxyHandler handler;

    ByteWatcher(ProxyHandler handler) {
        this.handler = handler;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        handler.onBytes();
        ctx.fireChannelRead(msg);
    }

    @Override
    public boolean isSharable() {
        return false;
    }
}
