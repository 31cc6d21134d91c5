package dev.torii.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A real WebSocket server (Netty's RFC 6455 implementation: {@link WebSocketServerProtocolHandler}, the handshake,
 * frame codec, ping answers and the close handshake) on a free 127.0.0.1 port, serving {@code /echo}: every text and
 * binary message (up to 2 MiB, fragments joined) comes back unchanged. Commands sent as text:
 * {@code close:<code>} makes the server close with that code and reason {@code bye}; {@code ping:<data>} makes it send a
 * ping, and the pong's payload comes back as the text {@code pong:<data>}; {@code reset} makes it reset the TCP
 * connection (RST). A handshake on {@code /forbidden} gets 403;
 * any other plain request gets 200 {@code plain}. It reads only while it can write (no unbounded buffering under load),
 * and allocates outside Netty's default allocator, so that a test's memory figures are the gateway's.
 *
 * <p>Thread-safe: recordings ({@link #handshakes()}, {@link #closeCodes()}) are read from the test thread.
 */
public final class WebSocketEchoServer implements AutoCloseable {
    private static final int MAX_MESSAGE = 2 << 20;
    /**
     * The server's buffers are neither pooled nor watched by the leak detector: unmasking frames touches every word of
     * a buffer, which the paranoid detector would record one by one, and the gateway's own buffer memory is then what
     * the default allocator's metric shows.
     */
    static final ByteBufAllocator UNTRACKED = new UnpooledByteBufAllocator(false, true);

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private final List<Map<String, String>> handshakes = new CopyOnWriteArrayList<>();
    private final List<Integer> closeCodes = new CopyOnWriteArrayList<>();
    private final List<Map<String, String>> requests = new CopyOnWriteArrayList<>();

    private WebSocketEchoServer(SslContext tls) {
        WebSocketServerProtocolConfig config = WebSocketServerProtocolConfig.newBuilder()
                .websocketPath("/echo")
                .checkStartsWith(true)
                .subprotocols("chat,superchat")
                .dropPongFrames(false)
                .handleCloseFrames(false)
                .sendCloseFrame(null)
                .decoderConfig(WebSocketDecoderConfig.newBuilder()
                        .maxFramePayloadLength(MAX_MESSAGE)
                        .build())
                .build();
        server = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.ALLOCATOR, UNTRACKED)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline()
                                .addLast(new HttpServerCodec())
                                .addLast(new HttpObjectAggregator(64 * 1024))
                                .addLast(new Gate())
                                .addLast(new WebSocketServerProtocolHandler(config))
                                .addLast(new WebSocketFrameAggregator(MAX_MESSAGE))
                                .addLast(new Echo());
                    }
                })
                .bind("127.0.0.1", 0)
                .syncUninterruptibly()
                .channel();
    }

    public static WebSocketEchoServer start() {
        return new WebSocketEchoServer(null);
    }

    /** The same server behind TLS, with the given PEM certificate chain and PKCS#8 key. */
    public static WebSocketEchoServer startTls(Path cert, Path key) {
        try {
            return new WebSocketEchoServer(
                    SslContextBuilder.forServer(cert.toFile(), key.toFile()).build());
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException("cannot use " + cert + " and " + key, e);
        }
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** {@code 127.0.0.1:port}. */
    public String endpoint() {
        return "127.0.0.1:" + port();
    }

    /** The header fields of every handshake request received, names in lower case. */
    public List<Map<String, String>> handshakes() {
        return handshakes;
    }

    /** The header fields of every request received (handshakes or not), names in lower case, with {@code :uri}. */
    public List<Map<String, String>> requests() {
        return requests;
    }

    /** The status codes of the close frames received from clients. */
    public List<Integer> closeCodes() {
        return closeCodes;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Records handshakes, refuses {@code /forbidden}, answers plain requests. */
    private final class Gate extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof FullHttpRequest request)) {
                ctx.fireChannelRead(msg);
                return;
            }
            boolean upgrade = request.headers().contains(HttpHeaderNames.UPGRADE);
            var fields = new java.util.LinkedHashMap<String, String>();
            request.headers()
                    .forEach(e -> fields.merge(
                            e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue(), (a, b) -> a + ", " + b));
            if (upgrade) {
                handshakes.add(fields);
            }
            var withUri = new java.util.LinkedHashMap<String, String>(fields);
            withUri.put(":uri", request.uri());
            requests.add(withUri);
            String uri = request.uri();
            boolean echoPath = uri.equals("/echo") || uri.startsWith("/echo/") || uri.startsWith("/echo?");
            if (echoPath && upgrade) {
                ctx.fireChannelRead(msg);
                return;
            }
            boolean forbidden = request.uri().startsWith("/forbidden");
            request.release();
            ByteBuf body =
                    Unpooled.copiedBuffer(forbidden ? "no websockets here\n" : "plain\n", StandardCharsets.UTF_8);
            var response = new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1, forbidden ? HttpResponseStatus.FORBIDDEN : HttpResponseStatus.OK, body);
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            ctx.writeAndFlush(response);
        }
    }

    /** Echoes messages; carries out the commands; reads only while the connection is writable. */
    private final class Echo extends ChannelInboundHandlerAdapter {
        private boolean closeSent;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof WebSocketFrame frame)) {
                io.netty.util.ReferenceCountUtil.release(msg);
                return;
            }
            if (frame instanceof TextWebSocketFrame text) {
                String s = text.text();
                if (s.startsWith("close:")) {
                    int code = Integer.parseInt(s.substring(6));
                    text.release();
                    closeSent = true;
                    ctx.writeAndFlush(new CloseWebSocketFrame(code, "bye"));
                    return;
                }
                if (s.equals("reset")) {
                    // An abortive close: RST instead of FIN.
                    text.release();
                    ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                    ctx.close();
                    return;
                }
                if (s.startsWith("ping:")) {
                    text.release();
                    ctx.writeAndFlush(
                            new PingWebSocketFrame(Unpooled.copiedBuffer(s.substring(5), StandardCharsets.UTF_8)));
                    return;
                }
                echo(ctx, text);
            } else if (frame instanceof BinaryWebSocketFrame) {
                echo(ctx, frame);
            } else if (frame instanceof CloseWebSocketFrame close) {
                // The close handshake (RFC 6455 section 5.5.1): answer with the same code unless we began it; the
                // server closes the TCP connection.
                closeCodes.add(close.statusCode());
                if (closeSent) {
                    close.release();
                    ctx.close();
                } else {
                    closeSent = true;
                    ctx.writeAndFlush(close).addListener(ChannelFutureListener.CLOSE);
                }
            } else if (frame instanceof PongWebSocketFrame pong) {
                String data = pong.content().toString(StandardCharsets.UTF_8);
                pong.release();
                ctx.writeAndFlush(new TextWebSocketFrame("pong:" + data));
            } else {
                frame.release();
            }
        }

        private void echo(ChannelHandlerContext ctx, WebSocketFrame frame) {
            ctx.writeAndFlush(frame.retainedDuplicate());
            frame.release();
            if (!ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
