package dev.torii.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
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
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
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
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-process HTTP/1.1 server on a free 127.0.0.1 port that records every request it receives and answers as its
 * {@link Handler} says. Tests use it to assert exactly what reached the backend: method, target, header fields in
 * order, body bytes and trailers.
 *
 * <p>A request is recorded in {@link #heads()} as soon as its head arrives and in {@link #requests()} once its body is
 * complete; the handler runs then. By default it answers {@code 200} with the body {@code "<method> <uri>\n"} and a
 * {@code Content-Length}. Keep-alive follows the request; {@code Expect: 100-continue} is answered with {@code 100}.
 *
 * <p>Thread-safe: recordings are read from the test thread while Netty's threads add to them; the {@code await} methods
 * block the caller until enough have arrived or fail after a deadline.
 */
public final class TestUpstream implements AutoCloseable {
    /** Decides the response to a complete request. Runs on the connection's event loop; must not block. */
    @FunctionalInterface
    public interface Handler {
        void handle(RecordedRequest request, Responder responder);
    }

    /** The default: {@code 200 "<method> <uri>\n"}. */
    public static final Handler ECHO_REQUEST_LINE = (req, res) ->
            res.respond(200, List.of(Map.entry("Content-Type", "text/plain")), req.method() + " " + req.uri() + "\n");

    private final EventLoopGroup group;
    private final Channel server;
    private final Object lock = new Object();
    private final List<RecordedRequest> heads = new ArrayList<>();
    private final List<RecordedRequest> requests = new ArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private volatile Handler handler;

    private TestUpstream(Handler handler) {
        this.handler = handler;
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            this.server = new ServerBootstrap()
                    .group(group)
                    .channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            int id = connections.incrementAndGet();
                            ch.pipeline()
                                    .addLast(new HttpServerCodec(16 * 1024, 64 * 1024, 64 * 1024))
                                    .addLast(new HttpServerExpectContinueHandler())
                                    .addLast(new Recorder(id));
                        }
                    })
                    .bind("127.0.0.1", 0)
                    .syncUninterruptibly()
                    .channel();
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS);
            throw e;
        }
    }

    /** Starts an upstream that answers {@link #ECHO_REQUEST_LINE}. */
    public static TestUpstream start() {
        return new TestUpstream(ECHO_REQUEST_LINE);
    }

    /** Starts an upstream that answers with {@code handler}. */
    public static TestUpstream start(Handler handler) {
        return new TestUpstream(Objects.requireNonNull(handler, "handler"));
    }

    /** Replaces the handler for requests completed from now on. */
    public void handler(Handler handler) {
        this.handler = Objects.requireNonNull(handler, "handler");
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** {@code 127.0.0.1:<port>}, as an upstream endpoint. */
    public String endpoint() {
        return "127.0.0.1:" + port();
    }

    /** Connections accepted so far. */
    public int connectionsAccepted() {
        return connections.get();
    }

    /** Requests whose head arrived, complete or not, in arrival order; their bodies are empty. */
    public List<RecordedRequest> heads() {
        synchronized (lock) {
            return List.copyOf(heads);
        }
    }

    /** Requests received completely (head, body, trailers), in arrival order. */
    public List<RecordedRequest> requests() {
        synchronized (lock) {
            return List.copyOf(requests);
        }
    }

    /** Waits until at least {@code n} complete requests have arrived and returns them all; fails after 5 s. */
    public List<RecordedRequest> awaitRequests(int n) {
        return await(requests, n, Duration.ofSeconds(5), "complete requests");
    }

    /** Waits until the heads of at least {@code n} requests have arrived and returns them all; fails after 5 s. */
    public List<RecordedRequest> awaitHeads(int n) {
        return await(heads, n, Duration.ofSeconds(5), "request heads");
    }

    /** Waits for the first complete request. */
    public RecordedRequest awaitRequest() {
        return awaitRequests(1).getFirst();
    }

    private List<RecordedRequest> await(List<RecordedRequest> list, int n, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (list.size() < n) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("upstream got " + list.size() + " " + what + " within " + timeout
                            + ", expected " + n + ": " + list);
                }
                try {
                    lock.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted", e);
                }
            }
            return List.copyOf(list);
        }
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Sends the response to one request. Methods may be called from any thread, once per request. */
    public static final class Responder {
        private final ChannelHandlerContext ctx;
        private final boolean keepAlive;

        private Responder(ChannelHandlerContext ctx, boolean keepAlive) {
            this.ctx = ctx;
            this.keepAlive = keepAlive;
        }

        /** Closes the connection without a response, as a backend that crashed or reset it would. */
        public void closeConnection() {
            ctx.close();
        }

        /** A complete response with a {@code Content-Length} (none for 1xx, 204 and 304, as RFC 9110 says). */
        public void respond(int status, List<Map.Entry<String, String>> headers, byte[] body) {
            var response = new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), Unpooled.wrappedBuffer(body));
            headers.forEach(h -> response.headers().add(h.getKey(), h.getValue()));
            if (status >= 200
                    && status != 204
                    && status != 304
                    && !response.headers().contains("content-length")) {
                HttpUtil.setContentLength(response, body.length);
            }
            finish(ctx.writeAndFlush(response));
        }

        public void respond(int status, List<Map.Entry<String, String>> headers, String body) {
            respond(status, headers, body.getBytes(StandardCharsets.UTF_8));
        }

        /** A chunked response: each element of {@code chunks} is one chunk, then the trailers. */
        public void respondChunked(
                int status,
                List<Map.Entry<String, String>> headers,
                List<byte[]> chunks,
                List<Map.Entry<String, String>> trailers) {
            Stream stream = stream(status, headers);
            chunks.forEach(stream::write);
            stream.end(trailers);
        }

        /** Starts a chunked response whose body is written later, for streaming and backpressure tests. */
        public Stream stream(int status, List<Map.Entry<String, String>> headers) {
            var response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status));
            headers.forEach(h -> response.headers().add(h.getKey(), h.getValue()));
            if (!response.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
                response.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            }
            ctx.writeAndFlush(response);
            return new Stream(this);
        }

        private void finish(io.netty.channel.ChannelFuture f) {
            if (!keepAlive) {
                f.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    /** The body of a streamed response. Thread-safe (writes are handed to the event loop in order). */
    public static final class Stream {
        private final Responder responder;

        private Stream(Responder responder) {
            this.responder = responder;
        }

        public Stream write(byte[] bytes) {
            responder.ctx.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(bytes)));
            return this;
        }

        public Stream write(String text) {
            return write(text.getBytes(StandardCharsets.UTF_8));
        }

        /** Ends the body with {@code trailers}. */
        public void end(List<Map.Entry<String, String>> trailers) {
            var last = new DefaultLastHttpContent();
            trailers.forEach(t -> last.trailingHeaders().add(t.getKey(), t.getValue()));
            responder.finish(responder.ctx.writeAndFlush(last));
        }

        /** Closes the connection in the middle of the body, as a failing backend would. */
        public void abort() {
            responder.ctx.close();
        }
    }

    private final class Recorder extends SimpleChannelInboundHandler<HttpObject> {
        private final int connection;
        private HttpRequest head;
        private ByteArrayOutputStream body;

        Recorder(int connection) {
            this.connection = connection;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg.decoderResult().isFailure()) {
                ctx.close();
                return;
            }
            if (msg instanceof HttpRequest req) {
                head = req;
                body = new ByteArrayOutputStream();
                synchronized (lock) {
                    heads.add(record(req, new byte[0], List.of(), false));
                    lock.notifyAll();
                }
            }
            if (msg instanceof HttpContent content && head != null) {
                ByteBuf data = content.content();
                body.writeBytes(ByteBufUtil.getBytes(data));
                if (content instanceof LastHttpContent last) {
                    var trailers = new ArrayList<Map.Entry<String, String>>();
                    last.trailingHeaders().forEach(e -> trailers.add(Map.entry(e.getKey(), e.getValue())));
                    RecordedRequest done = record(head, body.toByteArray(), trailers, true);
                    boolean keepAlive = HttpUtil.isKeepAlive(head);
                    head = null;
                    body = null;
                    synchronized (lock) {
                        requests.add(done);
                        lock.notifyAll();
                    }
                    handler.handle(done, new Responder(ctx, keepAlive));
                }
            }
        }

        private RecordedRequest record(
                HttpRequest req, byte[] bytes, List<Map.Entry<String, String>> trailers, boolean complete) {
            var headers = new ArrayList<Map.Entry<String, String>>();
            req.headers().forEach(e -> headers.add(Map.entry(e.getKey(), e.getValue())));
            return new RecordedRequest(
                    req.method().name(),
                    req.uri(),
                    req.protocolVersion().text(),
                    List.copyOf(headers),
                    bytes,
                    List.copyOf(trailers),
                    connection,
                    complete);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * One request as the upstream received it.
     *
     * @param method the method
     * @param uri the request target, as sent
     * @param version e.g. {@code HTTP/1.1}
     * @param headers header fields in order, as decoded (values without surrounding whitespace)
     * @param body the body bytes after removing any chunked framing
     * @param trailers trailer fields of a chunked body
     * @param connection which upstream connection carried it (1 for the first accepted, and so on)
     * @param complete whether the whole body arrived
     */
    public record RecordedRequest(
            String method,
            String uri,
            String version,
            List<Map.Entry<String, String>> headers,
            byte[] body,
            List<Map.Entry<String, String>> trailers,
            int connection,
            boolean complete) {

        /** The first value of header {@code name} (case-insensitive), or {@code null}. */
        public String header(String name) {
            return RawClient.RawResponse.first(headers, name);
        }

        /** Every value of header {@code name} (case-insensitive), in order. */
        public List<String> headers(String name) {
            return headers.stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(Map.Entry::getValue)
                    .toList();
        }

        /** Lower-case names of every header field. */
        public List<String> headerNames() {
            return headers.stream()
                    .map(e -> e.getKey().toLowerCase(Locale.ROOT))
                    .toList();
        }

        /** The first value of trailer {@code name} (case-insensitive), or {@code null}. */
        public String trailer(String name) {
            return RawClient.RawResponse.first(trailers, name);
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return method + " " + uri + " " + version + " " + headers + " body=" + body.length + "B '"
                    + RawClient.escape(new String(body, StandardCharsets.ISO_8859_1)) + "' trailers=" + trailers
                    + (complete ? "" : " (incomplete)");
        }
    }
}
