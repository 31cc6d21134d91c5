package dev.torii.internal;

import dev.torii.internal.http1.StrictServerCodec;
import dev.torii.internal.tunnel.WebSocketUpgrade;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;

/**
 * The HTTP/1.1 client connection's side of the exchanges: one exchange at a time, kept alive between them (pipelined
 * requests wait in the {@code FlowControlHandler} until the previous response is complete), and a
 * {@link StrictServerCodec} that stops decoding after a WebSocket upgrade request until the exchange says whether
 * the upgrade happened.
 *
 * <p>Not thread-safe: confined to the connection's event loop.
 */
final class Http1ClientAdapter implements ClientAdapter {
    private final ProxyHandler handler;
    /** The codec stopped decoding after a WebSocket upgrade request and waits for {@link #resumeCodec}. */
    private boolean codecHolding;

    Http1ClientAdapter(ProxyHandler handler) {
        this.handler = handler;
    }

    @Override
    public boolean http2() {
        return false;
    }

    @Override
    public String protocol(HttpRequest request) {
        return request.protocolVersion().text();
    }

    @Override
    public boolean clientWantsKeepAlive(HttpRequest request) {
        return HeaderRules.clientWantsKeepAlive(request);
    }

    @Override
    public void requestAccepted(HttpRequest request) {
        // The same test the codec made when it stopped decoding after this request.
        codecHolding = WebSocketUpgrade.isRequest(request);
    }

    @Override
    public Channel tlsConnection(Channel client) {
        return client;
    }

    @Override
    public String via(Engine engine) {
        return engine.via11();
    }

    @Override
    public void writeLastPart(HttpContent last, boolean requestComplete) {
        // A failed write reaches exceptionCaught, which closes the connection.
        ChannelHandlerContext ctx = handler.ctx();
        ctx.writeAndFlush(last, ctx.voidPromise());
    }

    @Override
    public void writeLocalResponse(FullHttpResponse response) {
        handler.ctx().writeAndFlush(response);
    }

    @Override
    public int tunnelStatus(HttpResponse switching) {
        return switching.status().code();
    }

    @Override
    public boolean closesWhenComplete() {
        return false;
    }

    @Override
    public void exchangeEnded(boolean requestEnded, boolean reuseClient) {
        if (reuseClient) {
            awaitNextRequest();
        } else {
            handler.exchange().moveToClosed();
            if (handler.closing()) {
                handler.lingeringClose();
            } else {
                handler.ctx().writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    @Override
    public void requestDiscarded() {
        awaitNextRequest();
    }

    private void awaitNextRequest() {
        ChannelHandlerContext ctx = handler.ctx();
        if (handler.closing() || !ctx.channel().isActive()) {
            // Draining or at its request limit: the response said Connection: close; end without a reset.
            handler.lingeringClose();
            return;
        }
        // Before the read: the next head may arrive within it.
        handler.exchange().moveTo(ExchangeState.IDLE);
        handler.awaitNextHead();
        resumeCodec();
        handler.readClient();
    }

    /** After a WebSocket upgrade request that was answered without an upgrade: decode the next request. */
    private void resumeCodec() {
        if (codecHolding) {
            codecHolding = false;
            StrictServerCodec codec = handler.ctx().pipeline().get(StrictServerCodec.class);
            if (codec != null) {
                codec.resume();
            }
        }
    }
}
