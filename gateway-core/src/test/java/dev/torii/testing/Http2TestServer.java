package dev.torii.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;

/**
 * A small HTTP/2 server (h2c with prior knowledge) on Netty's own codec, for what nginx cannot do: responses with
 * trailers, streams reset mid-response, and a request body read only after a pause (flow control towards the
 * upstream). For everything else use {@link NginxBackend}. Each stream is served by its own handler:
 *
 * <ul>
 *   <li>{@code GET /trailers}: {@code 200}, body {@code "hello world"} in two DATA frames, trailers
 *       {@code grpc-status: 0} and {@code x-trailer: t-value}; the request's {@code te} and {@code :scheme} come back as
 *       {@code x-seen-te} and {@code x-seen-scheme}
 *   <li>{@code GET /reset}: a response head, one DATA frame, then RST_STREAM
 *   <li>{@code POST /upload}: reads nothing for {@code pauseMillis}, then the whole body; answers
 *       {@code "<bytes> <crc32>"}
 *   <li>anything else: {@code 200 "ok"}
 * </ul>
 */
public final class Http2TestServer implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger headersOnly = new AtomicInteger();
    private final long pauseMillis;

    private Http2TestServer(long pauseMillis, boolean answerPings) {
        this.pauseMillis = pauseMillis;
        this.server = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.incrementAndGet();
                        ch.pipeline()
                                .addLast(Http2FrameCodecBuilder.forServer()
                                        .autoAckPingFrame(answerPings)
                                        .build())
                                .addLast(new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                                    @Override
                                    protected void initChannel(Http2StreamChannel stream) {
                                        stream.config().setOption(ChannelOption.AUTO_READ, false);
                                        stream.pipeline()
                                                .addLast(new Http2StreamFrameToHttpObjectCodec(true))
                                                .addLast(new StreamHandler());
                                        stream.read();
                                    }
                                }));
                    }
                })
                .bind("127.0.0.1", 0)
                .syncUninterruptibly()
                .channel();
    }

    /** Starts a server whose {@code /upload} waits {@code pauseMillis} before it reads the body. */
    public static Http2TestServer start(long pauseMillis) {
        return new Http2TestServer(pauseMillis, true);
    }

    /** Starts a server that never answers PING frames: a connection that looks alive but is not. */
    public static Http2TestServer ignoringPings() {
        return new Http2TestServer(0, false);
    }

    /** {@code 127.0.0.1:<port>}, as an upstream endpoint. */
    public String endpoint() {
        return "127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Requests whose HEADERS frame ended the stream (no DATA frame at all), so far. */
    public int headersOnlyRequests() {
        return headersOnly.get();
    }

    /** Connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private final class StreamHandler extends SimpleChannelInboundHandler<HttpObject> {
        private String path;
        private final CRC32 crc = new CRC32();
        private long received;
        private boolean paused;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest req) {
                if (msg instanceof FullHttpRequest) {
                    headersOnly.incrementAndGet();
                }
                path = req.uri();
                if (path.equals("/trailers")) {
                    var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                    head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
                    head.headers().set("x-seen-te", String.valueOf(req.headers().get(HttpHeaderNames.TE)));
                    head.headers()
                            .set("x-seen-scheme", String.valueOf(req.headers().get("x-http2-scheme")));
                    ctx.write(head);
                    ctx.write(new DefaultHttpContent(Unpooled.copiedBuffer("hello ", StandardCharsets.US_ASCII)));
                    var last = new DefaultLastHttpContent(Unpooled.copiedBuffer("world", StandardCharsets.US_ASCII));
                    last.trailingHeaders().set("grpc-status", "0").set("x-trailer", "t-value");
                    ctx.writeAndFlush(last);
                } else if (path.equals("/reset")) {
                    ctx.write(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
                    ctx.writeAndFlush(
                                    new DefaultHttpContent(Unpooled.copiedBuffer("partial", StandardCharsets.US_ASCII)))
                            .addListener(f -> ctx.channel().close()); // an open stream closed: RST_STREAM
                } else if (path.equals("/upload") && pauseMillis > 0) {
                    paused = true;
                    ctx.executor()
                            .schedule(
                                    () -> {
                                        paused = false;
                                        ctx.read();
                                    },
                                    pauseMillis,
                                    TimeUnit.MILLISECONDS);
                }
            }
            if (msg instanceof HttpContent c && "/upload".equals(path)) {
                ByteBuf b = c.content();
                received += b.readableBytes();
                crc.update(b.nioBuffer());
            }
            if (msg instanceof LastHttpContent && !path.equals("/trailers") && !path.equals("/reset")) {
                byte[] body = (path.equals("/upload") ? received + " " + crc.getValue() : "ok")
                        .getBytes(StandardCharsets.US_ASCII);
                var r = new DefaultFullHttpResponse(
                        HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
                HttpUtil.setContentLength(r, body.length);
                ctx.writeAndFlush(r);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (!paused) {
                ctx.read();
            }
        }
    }
}
