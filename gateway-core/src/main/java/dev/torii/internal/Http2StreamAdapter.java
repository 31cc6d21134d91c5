package dev.torii.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * One HTTP/2 stream's side of its one exchange: no keep-alive (the connection's life is the multiplexer's business),
 * the stream closes by itself once both of its sides ended, and a response that completes before the request body
 * resets the stream, but only once the response's last write is out.
 *
 * <p>Not thread-safe: confined to the stream channel's event loop.
 */
final class Http2StreamAdapter implements ClientAdapter {
    private final ProxyHandler handler;
    /** The write that ends the response, kept only when a reset for an unfinished request body must wait for it. */
    private ChannelFuture lastResponseWrite;

    Http2StreamAdapter(ProxyHandler handler) {
        this.handler = handler;
    }

    @Override
    public boolean http2() {
        return true;
    }

    @Override
    public String protocol(HttpRequest request) {
        return "HTTP/2.0";
    }

    @Override
    public boolean clientWantsKeepAlive(HttpRequest request) {
        // A stream carries one exchange.
        return false;
    }

    @Override
    public void requestAccepted(HttpRequest request) {
        // The stream codec never holds: an extended CONNECT is one stream whatever the upstream answers.
    }

    @Override
    public Channel tlsConnection(Channel client) {
        return client.parent() != null ? client.parent() : client;
    }

    @Override
    public String via(Engine engine) {
        return engine.via2();
    }

    @Override
    public void writeLastPart(HttpContent last, boolean requestComplete) {
        ChannelHandlerContext ctx = handler.ctx();
        if (!requestComplete) {
            // The stream is reset once this is written (exchangeEnded): keep the write's future.
            lastResponseWrite = ctx.writeAndFlush(last);
        } else {
            // A failed write reaches exceptionCaught, which closes the stream.
            ctx.writeAndFlush(last, ctx.voidPromise());
        }
    }

    @Override
    public void writeLocalResponse(FullHttpResponse response) {
        lastResponseWrite = handler.ctx().writeAndFlush(response);
    }

    @Override
    public int tunnelStatus(HttpResponse switching) {
        // The codec turns the 101 into the 200 that accepts an extended CONNECT.
        return HttpResponseStatus.OK.code();
    }

    @Override
    public boolean closesWhenComplete() {
        return true;
    }

    @Override
    public void exchangeEnded(boolean requestEnded, boolean reuseClient) {
        handler.exchange().moveToClosed();
        if (!requestEnded) {
            // The response is complete but the request body is not: reset the stream once the response is out.
            ChannelFuture last = lastResponseWrite;
            if (last != null) {
                last.addListener(ChannelFutureListener.CLOSE);
            } else {
                handler.ctx().close();
            }
        }
        // Otherwise both ends of the stream are closed and the stream channel closes itself.
        lastResponseWrite = null;
    }

    @Override
    public void requestDiscarded() {
        throw new IllegalStateException("an HTTP/2 stream never discards a request end (it has no keep-alive)");
    }
}
