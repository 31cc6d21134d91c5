package dev.torii.internal.tcp;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.AbstractSniHandler;
import io.netty.util.concurrent.Future;

/**
 * Reads the server name of a TLS ClientHello without terminating TLS, for SNI passthrough: Netty's ClientHello parser
 * (bounded in bytes and in time) fires an {@link io.netty.handler.ssl.SniCompletionEvent} with the name, then this
 * handler removes itself and the bytes it held, untouched, go on to {@link TcpProxyHandler}, which sends them to the
 * backend first. A client that is too slow or sends a longer hello is closed by the parser (the event then carries
 * the cause).
 *
 * <p>One per connection; runs on the connection's event loop.
 */
final class ClientHelloPeekHandler extends AbstractSniHandler<String> {
    ClientHelloPeekHandler(int maxClientHelloBytes, long timeoutMillis) {
        super(maxClientHelloBytes, timeoutMillis);
    }

    @Override
    protected Future<String> lookup(ChannelHandlerContext ctx, String hostname) {
        return ctx.executor().newSucceededFuture(hostname);
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, String hostname, Future<String> future) {
        // Removing a decoder passes what it has buffered (the whole ClientHello so far) to the next handler.
        ctx.pipeline().remove(this);
    }
}
