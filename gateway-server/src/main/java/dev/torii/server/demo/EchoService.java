package dev.torii.server.demo;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A tiny HTTP/1.1 service that answers every request with {@code 200 text/plain} describing what it received: the
 * method, the URI, every request header in order, and the number of body bytes. It is the upstream of the quickstart,
 * so a user sees at once what the gateway sent on ({@code X-Forwarded-For}, {@code Via}, ...).
 *
 * <pre>
 * GET /hello?x=1 HTTP/1.1
 * host: localhost:8080
 * via: 1.1 torii
 * x-forwarded-for: 127.0.0.1
 *
 * body: 0 bytes
 * </pre>
 *
 * <p>Keep-alive follows HTTP/1.1 rules ({@code Connection: close} and HTTP/1.0 without keep-alive end the
 * connection after the response). Bodies are counted as they stream in, never buffered, so any size is fine.
 *
 * <p>A demo, not a server to benchmark: one event-loop thread. Thread-safe; {@link #close()} may be called from any
 * thread.
 */
public final class EchoService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EchoService.class);

    private final EventLoopGroup group;
    private final Channel channel;

    private EchoService(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /**
     * Binds {@code host:port} (port 0 for any free port) and starts answering. Returns once bound.
     *
     * @throws UncheckedIOException when the address cannot be bound
     */
    public static EchoService start(String host, int port) {
        Objects.requireNonNull(host, "host");
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            Channel channel = new ServerBootstrap()
                    .group(group)
                    .channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline()
                                    .addLast(new HttpServerCodec())
                                    .addLast(new HttpServerExpectContinueHandler())
                                    .addLast(new EchoHandler());
                        }
                    })
                    .bind(host, port)
                    .syncUninterruptibly()
                    .channel();
            EchoService service = new EchoService(group, channel);
            log.info(
                    "demo echo service on {}:{}",
                    service.address().getHostString(),
                    service.address().getPort());
            return service;
        } catch (Exception e) { // Netty rethrows a bind failure, a checked BindException, undeclared
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            if (e instanceof IOException io) {
                throw new UncheckedIOException(
                        "demo echo service: cannot bind " + host + ":" + port + ": " + io.getMessage(), io);
            }
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException("demo echo service: cannot start on " + host + ":" + port, e);
        }
    }

    /** The address actually bound (useful with port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** Stops accepting, closes open connections and the event loop; waits up to a few seconds for that. */
    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /**
     * Collects one request's head, counts its body, answers at the end of the body. HTTP/1.1 requests on one
     * connection arrive in order and are answered in order, so one request in progress per channel is enough.
     */
    private static final class EchoHandler extends SimpleChannelInboundHandler<HttpObject> {
        private final StringBuilder head = new StringBuilder();
        private long bodyBytes;
        private boolean keepAlive;
        private HttpVersion version = HttpVersion.HTTP_1_1;
        private boolean badRequest;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest request) {
                head.setLength(0);
                bodyBytes = 0;
                version = request.protocolVersion();
                keepAlive = HttpUtil.isKeepAlive(request);
                badRequest = request.decoderResult().isFailure();
                head.append(request.method())
                        .append(' ')
                        .append(request.uri())
                        .append(' ')
                        .append(version.text())
                        .append('\n');
                for (Map.Entry<String, String> h : request.headers()) {
                    head.append(h.getKey()).append(": ").append(h.getValue()).append('\n');
                }
            }
            if (msg instanceof HttpContent content) {
                bodyBytes += content.content().readableBytes();
                badRequest |= content.decoderResult().isFailure();
            }
            if (msg instanceof LastHttpContent) {
                respond(ctx);
            }
        }

        private void respond(ChannelHandlerContext ctx) {
            FullHttpResponse response;
            if (badRequest) {
                // The decoder could not make sense of the connection's bytes; nothing after them can be trusted.
                keepAlive = false;
                response = text(HttpResponseStatus.BAD_REQUEST, ctx, "bad request\n");
            } else {
                response = text(HttpResponseStatus.OK, ctx, head + "\nbody: " + bodyBytes + " bytes\n");
            }
            if (keepAlive && version.equals(HttpVersion.HTTP_1_0)) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            } else if (!keepAlive) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            var write = ctx.writeAndFlush(response);
            if (!keepAlive) {
                write.addListener(ChannelFutureListener.CLOSE);
            }
        }

        private FullHttpResponse text(HttpResponseStatus status, ChannelHandlerContext ctx, String body) {
            ByteBuf content = ctx.alloc().buffer();
            content.writeCharSequence(body, StandardCharsets.UTF_8);
            FullHttpResponse response = new DefaultFullHttpResponse(version, status, content);
            response.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            return response;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("demo echo service: closing {} after {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
