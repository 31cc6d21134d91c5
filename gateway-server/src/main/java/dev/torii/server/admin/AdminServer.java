package dev.torii.server.admin;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
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
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin API's HTTP/1.1 server: one event loop of its own (never a proxy or DNS event loop), requests of at most
 * 64 KiB aggregated whole and answered by {@link AdminRoutes} on virtual threads (an endpoint may block, as a reload
 * does, without stalling the probes and scrapes of other connections); a connection's answers keep its requests'
 * order.
 *
 * <p>Authentication: on a loopback address no token is needed. Bound anywhere else, the server refuses to start
 * without a bearer token, and then every request but the probes and the status page's static files
 * ({@link #OPEN_PATHS}) must carry {@code Authorization: Bearer TOKEN} (401 otherwise). Thread-safe.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
    private static final int MAX_REQUEST = 64 * 1024;

    /** Paths served without the token: liveness and readiness probes, and the status page's HTML and script. */
    public static final java.util.Set<String> OPEN_PATHS = java.util.Set.of("/healthz", "/readyz", "/", "/status.js");

    private final EventLoopGroup group;
    private final Channel channel;

    private AdminServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /**
     * Binds {@code host:port} and serves {@code routes}.
     *
     * @throws UncheckedIOException when the address cannot be bound
     */
    public static AdminServer start(String host, int port, AdminRoutes routes) {
        return start(host, port, routes, null);
    }

    /**
     * Binds {@code host:port} and serves {@code routes}, asking for {@code token} as a bearer token unless it is
     * {@code null}.
     *
     * @throws IllegalArgumentException when {@code host} is not a loopback address and {@code token} is {@code null}
     * @throws UncheckedIOException when the address cannot be bound
     */
    public static AdminServer start(String host, int port, AdminRoutes routes, String token) {
        Objects.requireNonNull(routes, "routes");
        if (token == null && !isLoopback(host)) {
            throw new IllegalArgumentException("admin.address: '" + host + ":" + port
                    + "' is not a loopback address and no token is set (expected: admin.token in the file or the"
                    + " TORII_ADMIN_TOKEN environment variable, or a 127.0.0.1 address)");
        }
        byte[] expected = token == null ? null : ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(
                1, new DefaultThreadFactory("torii-admin", true), NioIoHandler.newFactory());
        try {
            Channel ch = new ServerBootstrap()
                    .group(group)
                    .channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline()
                                    .addLast(new ReadTimeoutHandler(30))
                                    .addLast(new HttpServerCodec())
                                    .addLast(new HttpObjectAggregator(MAX_REQUEST))
                                    .addLast(new Handler(routes, expected));
                        }
                    })
                    .bind(host, port)
                    .syncUninterruptibly()
                    .channel();
            AdminServer server = new AdminServer(group, ch);
            log.info("admin API on {}:{} ({})", host, server.address().getPort(), routes);
            return server;
        } catch (Exception e) { // Netty rethrows the bind's IOException unchecked
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            String message = "admin: cannot bind " + host + ":" + port + ": " + e.getMessage();
            throw new UncheckedIOException(message, new BindException(message));
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** The bound address (useful with port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** Stops accepting, closes the connections and the thread; waits for it. */
    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private static final java.util.concurrent.Executor VIRTUAL =
                r -> Thread.ofVirtual().name("torii-admin-request").start(r);

        private final AdminRoutes routes;
        private final byte[] authorization;
        /** The answers of this connection still to write, in request order; on its event loop. */
        private java.util.concurrent.CompletableFuture<Void> queue =
                java.util.concurrent.CompletableFuture.completedFuture(null);
        /** Requests taken and not answered yet; on the event loop. */
        private int pending;

        Handler(AdminRoutes routes, byte[] authorization) {
            this.routes = routes;
            this.authorization = authorization;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            boolean head = req.method().equals(HttpMethod.HEAD);
            if (!req.decoderResult().isSuccess()) {
                enqueue(ctx, head, false, () -> AdminResponse.text(400, "bad request\n"));
                return;
            }
            QueryStringDecoder uri = new QueryStringDecoder(req.uri());
            if (authorization != null && !OPEN_PATHS.contains(uri.path())) {
                String given = req.headers().get(HttpHeaderNames.AUTHORIZATION);
                // Constant-time, so the answer's timing says nothing about how much of a guess was right.
                if (given == null
                        || !java.security.MessageDigest.isEqual(
                                authorization, given.getBytes(StandardCharsets.UTF_8))) {
                    AdminResponse r = AdminResponse.text(401, "a bearer token is required\n");
                    AdminResponse denied =
                            new AdminResponse(401, r.contentType(), r.body(), Map.of("www-authenticate", "Bearer"));
                    enqueue(ctx, head, HttpUtil.isKeepAlive(req), () -> denied);
                    return;
                }
            }
            Map<String, String> query = new HashMap<>();
            uri.parameters().forEach((k, v) -> query.put(k, v.isEmpty() ? "" : v.getFirst()));
            AdminRequest request = new AdminRequest(
                    req.method().name(), uri.path(), query, req.content().toString(StandardCharsets.UTF_8));
            enqueue(ctx, head, HttpUtil.isKeepAlive(req), () -> answer(request));
        }

        /**
         * Answers with {@code answer}, run on a virtual thread after this connection's earlier requests were answered.
         * Endpoints may block (a reload reads files, compiles plugins, binds and connects to Redis): the admin loop
         * keeps answering probes and scrapes on other connections meanwhile. One connection's requests are answered
         * in order (refusals too); it reads no more while one waits (a request the decoder already holds is queued
         * behind it). On the event loop.
         */
        private void enqueue(
                ChannelHandlerContext ctx,
                boolean head,
                boolean keepAlive,
                java.util.function.Supplier<AdminResponse> answer) {
            ctx.channel().config().setAutoRead(false);
            pending++;
            queue = queue.thenApplyAsync(ignored -> answer.get(), VIRTUAL)
                    .thenAcceptAsync(
                            r -> {
                                send(ctx, head, r, keepAlive);
                                if (--pending == 0 && keepAlive) {
                                    ctx.channel().config().setAutoRead(true);
                                }
                            },
                            ctx.executor());
        }

        /** The endpoint's answer; never throws, so one failure cannot stall the connection's queue. */
        private AdminResponse answer(AdminRequest request) {
            try {
                return routes.handle(request);
            } catch (RuntimeException | Error e) {
                log.error("admin {} {} failed", request.method(), request.path(), e);
                return AdminResponse.text(500, request.method() + " " + request.path() + " failed: " + e + "\n");
            }
        }

        private static void send(ChannelHandlerContext ctx, boolean head, AdminResponse r, boolean keepAlive) {
            ByteBuf body = head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(r.body());
            FullHttpResponse response =
                    new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()), body);
            response.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, r.contentType())
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, r.body().length)
                    .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
            r.headers().forEach((k, v) -> response.headers().set(k, v));
            if (keepAlive) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(response);
            } else {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
