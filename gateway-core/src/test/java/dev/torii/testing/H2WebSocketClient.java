package dev.torii.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket08FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket08FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A WebSocket client over HTTP/2 (RFC 8441): Netty's HTTP/2 client codec (h2c with prior knowledge, or h2 over TLS by
 * ALPN) opens one stream with an extended CONNECT ({@code :method CONNECT}, {@code :protocol websocket}) once the
 * server's SETTINGS arrived, and Netty's RFC 6455 frame encoder (masking, as a client must) and decoder speak WebSocket
 * inside the stream's DATA frames. Everything the stream brings is an {@link Event} in {@link #next}.
 *
 * <p>Like {@link WebSocketEchoServer}, it allocates outside Netty's default allocator (a test's memory figures are
 * the gateway's). Reads on the stream can be paused ({@link #pauseReading}) so that a test can hold the gateway back through the
 * stream's flow-control window; {@link #send} waits while the stream is not writable, so the client never buffers more
 * than one message. Thread-safe: methods are called from the test thread, the work runs on the client's event loop.
 */
public final class H2WebSocketClient implements AutoCloseable {
    /** What the stream brought: a response head, a message, the end of the stream, a reset, a refused answer's body. */
    public record Event(Kind kind, Http2Headers headers, byte[] data, int code) {
        public String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    public enum Kind {
        HEADERS,
        TEXT,
        BINARY,
        PING,
        PONG,
        CLOSE,
        BODY,
        END_STREAM,
        RESET
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel connection;
    private final CompletableFuture<Void> serverSettings = new CompletableFuture<>();
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private Http2StreamChannel stream;

    private H2WebSocketClient(InetSocketAddress address, SslContext tls, String sni) throws IOException {
        var bootstrap = new Bootstrap()
                .group(group)
                .channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.ALLOCATOR, WebSocketEchoServer.UNTRACKED)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc(), sni, address.getPort()));
                        }
                        ch.pipeline()
                                .addLast(Http2FrameCodecBuilder.forClient()
                                        .initialSettings(Http2Settings.defaultSettings())
                                        .validateHeaders(false)
                                        .build())
                                .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()))
                                .addLast(new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof Http2SettingsFrame) {
                                            serverSettings.complete(null);
                                        }
                                        ReferenceCountUtil.release(msg);
                                    }
                                });
                    }
                });
        connection = bootstrap.connect(address).syncUninterruptibly().channel();
        if (tls != null) {
            SslHandler ssl = connection.pipeline().get(SslHandler.class);
            ssl.handshakeFuture().syncUninterruptibly();
            if (!ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())) {
                throw new IOException("ALPN chose " + ssl.applicationProtocol() + ", not h2");
            }
        }
        try {
            serverSettings.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IOException("no SETTINGS from the server", e);
        }
    }

    /** h2c with prior knowledge. */
    public static H2WebSocketClient connect(InetSocketAddress address) throws IOException {
        return new H2WebSocketClient(address, null, null);
    }

    /** h2 over TLS (ALPN h2), trusting {@code caCert}, with SNI {@code host}. */
    public static H2WebSocketClient connectTls(InetSocketAddress address, Path caCert, String host) throws IOException {
        SslContext tls = SslContextBuilder.forClient()
                .trustManager(caCert.toFile())
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        ApplicationProtocolNames.HTTP_2))
                .build();
        return new H2WebSocketClient(address, tls, host);
    }

    /**
     * Sends the extended CONNECT for {@code path} on a new stream and returns the response head. {@code extra} are
     * more request fields (e.g. {@code sec-websocket-protocol}).
     */
    public Http2Headers open(String scheme, String authority, String path, Map<String, String> extra)
            throws InterruptedException {
        stream = new Http2StreamChannelBootstrap(connection)
                .handler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        ch.config().setAllocator(WebSocketEchoServer.UNTRACKED);
                        ch.pipeline()
                                .addLast(new DataAdapter())
                                .addLast(new WebSocket08FrameDecoder(WebSocketDecoderConfig.newBuilder()
                                        .expectMaskedFrames(false)
                                        .maxFramePayloadLength(4 << 20)
                                        .build()))
                                .addLast(new WebSocket08FrameEncoder(true))
                                .addLast(new WebSocketFrameAggregator(4 << 20))
                                .addLast(new Collector());
                    }
                })
                .open()
                .syncUninterruptibly()
                .getNow();
        Http2Headers h = new DefaultHttp2Headers(false);
        h.method("CONNECT").scheme(scheme).authority(authority).path(path);
        h.set(":protocol", "websocket");
        h.set("sec-websocket-version", "13");
        extra.forEach(h::set);
        stream.writeAndFlush(new DefaultHttp2HeadersFrame(h, false)).syncUninterruptibly();
        Event head = next(Duration.ofSeconds(10));
        if (head.kind() != Kind.HEADERS) {
            throw new IllegalStateException("expected the response head, got " + head);
        }
        return head.headers();
    }

    /**
     * Sends one WebSocket message and waits until it was written (flow control allows it only as the gateway returns
     * window), so the client never holds more than one message.
     */
    public void send(WebSocketFrame frame) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!stream.isWritable() && stream.isActive()) {
            if (System.nanoTime() > deadline) {
                frame.release();
                throw new IllegalStateException("stream not writable for 60 s");
            }
            Thread.sleep(1);
        }
        stream.writeAndFlush(frame).await(60, TimeUnit.SECONDS);
    }

    public void sendText(String text) throws InterruptedException {
        send(new TextWebSocketFrame(text));
    }

    public void sendBinary(byte[] data) throws InterruptedException {
        send(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(data)));
    }

    /** Ends the client's side of the stream (END_STREAM on an empty DATA frame). */
    public void endStream() {
        stream.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
    }

    /** Resets the stream with CANCEL. */
    public void reset() {
        stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CANCEL));
    }

    public void pauseReading() {
        stream.config().setAutoRead(false);
    }

    public void resumeReading() {
        stream.config().setAutoRead(true);
    }

    /** The next event, or an exception after {@code timeout}. */
    public Event next(Duration timeout) throws InterruptedException {
        Event e = events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (e == null) {
            throw new IllegalStateException("nothing from the stream within " + timeout);
        }
        return e;
    }

    @Override
    public void close() {
        connection.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** DATA frames to bytes for the WebSocket decoder (after a 200), bytes to DATA frames; HEADERS and ends as events. */
    private final class DataAdapter extends ChannelDuplexHandler {
        private boolean open;
        private final ByteArrayOutputStream refusedBody = new ByteArrayOutputStream();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2HeadersFrame headers) {
                open = "200".contentEquals(headers.headers().status());
                events.add(new Event(Kind.HEADERS, headers.headers(), new byte[0], 0));
                if (headers.isEndStream()) {
                    events.add(new Event(Kind.END_STREAM, null, new byte[0], 0));
                }
            } else if (msg instanceof Http2DataFrame data) {
                if (open) {
                    ctx.fireChannelRead(data.content().retain());
                } else {
                    refusedBody.writeBytes(ByteBufUtil.getBytes(data.content()));
                }
                boolean end = data.isEndStream();
                data.release();
                if (end) {
                    if (!open) {
                        events.add(new Event(Kind.BODY, null, refusedBody.toByteArray(), 0));
                    }
                    events.add(new Event(Kind.END_STREAM, null, new byte[0], 0));
                }
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame rst) {
                events.add(new Event(Kind.RESET, null, new byte[0], (int) rst.errorCode()));
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (msg instanceof ByteBuf bytes) {
                ctx.write(new DefaultHttp2DataFrame(bytes, false), promise);
            } else {
                ctx.write(msg, promise);
            }
        }
    }

    /** WebSocket frames to events. */
    private final class Collector extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            WebSocketFrame frame = (WebSocketFrame) msg;
            try {
                byte[] data = ByteBufUtil.getBytes(frame.content());
                if (frame instanceof TextWebSocketFrame) {
                    events.add(new Event(Kind.TEXT, null, data, 0));
                } else if (frame instanceof BinaryWebSocketFrame) {
                    events.add(new Event(Kind.BINARY, null, data, 0));
                } else if (frame instanceof PingWebSocketFrame) {
                    events.add(new Event(Kind.PING, null, data, 0));
                    // A client answers a ping with a pong carrying the same data (RFC 6455 section 5.5.3).
                    ctx.writeAndFlush(new PongWebSocketFrame(Unpooled.wrappedBuffer(data)));
                } else if (frame instanceof PongWebSocketFrame) {
                    events.add(new Event(Kind.PONG, null, data, 0));
                } else if (frame instanceof CloseWebSocketFrame close) {
                    events.add(new Event(
                            Kind.CLOSE, null, close.reasonText().getBytes(StandardCharsets.UTF_8), close.statusCode()));
                }
            } finally {
                frame.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            events.add(new Event(Kind.RESET, null, String.valueOf(cause).getBytes(StandardCharsets.UTF_8), -1));
        }
    }
}
