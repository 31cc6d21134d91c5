package dev.torii.internal;

import dev.torii.ExchangeLog;
import dev.torii.ListenerOptions;
import dev.torii.LocalResponse;
import dev.torii.PathNormalization;
import dev.torii.ProxyError;
import dev.torii.TlsInfo;
import dev.torii.internal.http1.RequestChecks;
import dev.torii.internal.http1.StrictServerCodec;
import dev.torii.internal.tunnel.Tunnel;
import dev.torii.internal.tunnel.WebSocketUpgrade;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side's Netty handler: proxies the exchanges of one HTTP/1.1 client connection, one at a time (pipelined
 * requests wait in the {@code FlowControlHandler} in front of this handler until the previous response is complete),
 * or the one exchange of an HTTP/2 stream.
 *
 * <pre>
 *   client channel ─▶ ProxyHandler ─(head, body parts, close, writability, timer)─▶ ExchangeDriver ─▶ upstream
 *                         │                                                             │
 *                         └── ClientAdapter: Http1ClientAdapter | Http2StreamAdapter ◀──┘ (where protocols differ)
 * </pre>
 *
 * <p>This class holds what belongs to the client channel: its reads, the one timer (header read and idle timeouts
 * between exchanges; the {@link ExchangeDriver} checks the deadlines of an exchange), the checks a request head
 * passes before an exchange exists, and the bare error for a request that never became one. The
 * {@link ExchangeDriver} holds the exchange's flow and its {@link ExchangeState}.
 *
 * <p>Reads are explicit on both sides ({@code AUTO_READ} off): the client is read for the next request head only when
 * no exchange is in progress, and for body content only while the upstream connection is writable; the upstream is
 * read only while the client connection is writable. So a slow reader on either side stops the other side's reads
 * instead of making the proxy buffer.
 *
 * <p>Ownership: a request body chunk read from the client is written to the upstream connection (which releases
 * it); a response part read from the upstream is written to the client, or released when the exchange no longer
 * needs it.
 *
 * <p>WebSocket: a {@link WebSocketUpgrade#isRequest upgrade request} keeps its {@code Upgrade} fields upstream; when
 * the upstream answers {@code 101}, the exchange hands both connections to a {@link Tunnel} (which replaces this
 * handler) and ends when the tunnel closes.
 *
 * <p>Not thread-safe: confined to the client channel's event loop.
 */
public final class ProxyHandler extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);

    /** The client address of a connection that has no IP peer (an in-memory channel in tests). */
    private static final InetSocketAddress UNKNOWN_CLIENT =
            new InetSocketAddress(java.net.InetAddress.ofLiteral("0.0.0.0"), 0);

    /** A client connection's TLS session as hooks see it, computed once per connection. */
    private static final AttributeKey<TlsInfo> TLS_INFO = AttributeKey.valueOf("torii.tls");
    /** The SNI name exactly as the client sent it (lower-cased by Netty), kept by the listener's SNI handler. */
    private static final AttributeKey<String> RAW_SERVER_NAME = AttributeKey.valueOf("torii.sni");

    /** The options of the listener that accepted a client connection, kept on the connection at accept. */
    private static final AttributeKey<ListenerOptions> LISTENER_OPTIONS = AttributeKey.valueOf("torii.listenerOptions");

    /** Keeps the options of the listener that accepted {@code connection}, for the exchanges on it. */
    static void rememberListenerOptions(Channel connection, ListenerOptions options) {
        connection.attr(LISTENER_OPTIONS).set(options);
    }

    /** Streams opened on an HTTP/2 connection, counted against its request limit (on the connection's loop). */
    private static final AttributeKey<int[]> STREAMS = AttributeKey.valueOf("torii.streams");

    /**
     * How long an idle HTTP/1.1 connection that is told to drain waits for a request the client already sent (still
     * in the socket buffer, or on its way) before it closes: a read is asked for at once, so one in the buffer
     * arrives within one event-loop turn; the rest is margin for a loaded loop.
     */
    private static final long DRAIN_READ_GRACE_MILLIS = 100;

    /** Keeps the SNI name {@code hostname} (or {@code null}) of the TLS connection {@code connection}. */
    static void rememberServerName(Channel connection, String hostname) {
        connection.attr(RAW_SERVER_NAME).set(hostname);
    }

    private final Engine engine;
    private final boolean secure;
    private final ClientAdapter adapter;
    private final ExchangeDriver exchange;

    private ChannelHandlerContext ctx;
    private boolean started;
    /** Draining (or a bare error was sent): no further exchange starts on this connection. */
    private boolean closing;
    /** A read was asked for and not yet satisfied (the {@code FlowControlHandler} forgets such a demand). */
    private boolean clientReadPending;
    /** Bytes of a request head arrived since the last exchange: the header read timeout runs. */
    private boolean bytesSinceLastExchange;

    private boolean firstRequest = true;
    /** This connection's path normalisation (the listener's own, or the gateway's), looked up at the first request. */
    private PathNormalization pathNormalization;
    /** Closing: output shut, input read and dropped until the client closes (no reset for a late request). */
    private boolean lingering;
    /** Requests this HTTP/1.1 connection carried. */
    private int requests;
    /** This connection's request limit (0: none), known once started. */
    private int maxRequests;

    private ScheduledFuture<?> timer;
    private long timerAt;
    private long waitSince;
    private long headStart;

    /** A handler for one client connection (HTTP/1.1) or one HTTP/2 stream. */
    public ProxyHandler(Engine engine, boolean secure, boolean http2) {
        this.engine = engine;
        this.secure = secure;
        this.adapter = http2 ? new Http2StreamAdapter(this) : new Http1ClientAdapter(this);
        this.exchange = new ExchangeDriver(this, engine, adapter);
    }

    ChannelHandlerContext ctx() {
        return ctx;
    }

    ExchangeDriver exchange() {
        return exchange;
    }

    boolean secure() {
        return secure;
    }

    boolean closing() {
        return closing;
    }

    /** The event loop's clock: the real one, or the fake one of an {@code EmbeddedChannel} in tests. */
    long now() {
        return ctx.executor().ticker().nanoTime();
    }

    // ------------------------------------------------------------------ connection life

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (ctx.channel().isActive()) {
            // Added to a live connection (after ALPN or protocol detection): no channelActive will come.
            start();
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancelTimer();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start();
        ctx.fireChannelActive();
    }

    private void start() {
        if (started) {
            return;
        }
        started = true;
        maxRequests = engine.maxRequestsPerConnection(listenerName());
        if (engine.draining(adapter.http2() ? ctx.channel().parent() : ctx.channel())) {
            // Accepted in the drain's accept grace, or its protocol became known after the drain began.
            drain();
        }
        waitSince = now();
        headStart = waitSince;
        ensureTimer(waitSince + engine.limits().headerReadTimeout().toNanos());
        readClient();
    }

    /** Called by the {@link StrictServerCodec} for every inbound buffer, before decoding. */
    void onBytes() {
        if (!bytesSinceLastExchange) {
            bytesSinceLastExchange = true;
            if (!firstRequest) {
                // An idle keep-alive connection started a request: the header read timeout applies from now.
                headStart = now();
            }
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelTimer();
        exchange.clientClosed();
        ctx.fireChannelInactive();
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            log.debug("client connection {} failed", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == Engine.DRAIN) {
            drain();
            return;
        }
        if (evt instanceof Http2ResetFrame && exchange.nothingSentUpstream()) {
            // The client reset the stream before its request went upstream (a rapid-reset flood does it stream after
            // stream): the exchange ends now, which cancels its connect or its place in the pool's queue, instead of
            // when the stream channel closes, which it does only on a read (reads are explicit) and so after the
            // request was written. The read lets the channel take the stream's end and close, without a RST_STREAM
            // in answer to the client's (RFC 9113 section 5.4.2).
            exchange.clientClosed();
            ctx.read();
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * The gateway drains: no exchange starts after the ones the client already sent. An HTTP/2 stream drains its
     * connection (GOAWAY, see {@link Engine#drain}). An HTTP/1.1 connection answers its exchange in progress with
     * {@code Connection: close}; an idle one reads once more, since a request may wait unread in the socket buffer
     * (reads are explicit) and closing over unread bytes would reset the connection, and closes cleanly if none came.
     */
    private void drain() {
        if (adapter.http2()) {
            if (ctx.channel().parent() != null) {
                engine.drain(ctx.channel().parent());
            }
            return;
        }
        if (closing) {
            return;
        }
        closing = true;
        log.debug("drain {}: exchange in progress {}", ctx.channel(), exchange.current() != null);
        if (exchange.current() == null && started) {
            readClient();
            ctx.executor().schedule(this::closeIfIdle, DRAIN_READ_GRACE_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    private void closeIfIdle() {
        if (exchange.current() == null
                && !bytesSinceLastExchange
                && ctx.channel().isActive()) {
            lingeringClose();
        }
        // Else a request arrived: it is answered with Connection: close, then the connection closes.
        // A head in progress is held to the header read timeout as always.
    }

    /**
     * Closes an HTTP/1.1 connection without resetting it: the output is shut (FIN, after TLS's close_notify), then
     * whatever the client still sends is read and dropped until it closes its side (or the header read timeout
     * passes). Closing with unread bytes would make the kernel answer RST, and a client whose request crossed the FIN
     * would see a reset instead of a clean end (nginx's lingering close).
     */
    void lingeringClose() {
        if (lingering) {
            return;
        }
        lingering = true;
        log.debug("lingering close {}", ctx.channel());
        closing = true;
        cancelTimer();
        exchange.moveToClosed();
        Channel ch = ctx.channel();
        if (!(ch instanceof io.netty.channel.socket.DuplexChannel duplex) || !ch.isActive()) {
            ctx.close();
            return;
        }
        SslHandler ssl = ch.pipeline().get(SslHandler.class);
        io.netty.channel.ChannelFuture flushed =
                ssl != null ? ssl.closeOutbound() : ctx.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER);
        flushed.addListener(f -> {
            if (ch.isActive()) {
                duplex.shutdownOutput();
            }
        });
        ch.config().setAutoRead(true);
        ctx.read();
        ctx.executor()
                .schedule(
                        () -> {
                            ctx.close();
                        },
                        engine.limits().headerReadTimeout().toNanos(),
                        TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            exchange.clientWritable();
        }
        ctx.fireChannelWritabilityChanged();
    }

    // ------------------------------------------------------------------ client messages

    /**
     * Asks for the next message from the client. The {@code FlowControlHandler} forgets a demand that the current
     * socket read did not satisfy, so {@link #channelReadComplete} asks again while one is outstanding.
     */
    void readClient() {
        clientReadPending = true;
        ctx.read();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (clientReadPending && ctx.channel().isActive()) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        clientReadPending = false;
        if (lingering) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest request) {
            boolean failed = request.decoderResult().isFailure();
            onRequestHead(request);
            if (msg instanceof HttpContent content) {
                if (failed) {
                    // A failed decode comes as a full request; its (empty) content is not needed.
                    content.release();
                } else {
                    // A full request (an h2c upgrade request that was not upgraded): its body, as if read next.
                    exchange.onRequestContent(content);
                }
            }
        } else if (msg instanceof HttpContent content) {
            exchange.onRequestContent(content);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onRequestHead(HttpRequest request) {
        if (request.decoderResult().isFailure()) {
            Throwable cause = request.decoderResult().cause();
            log.debug("bad request from {}: {}", ctx.channel().remoteAddress(), cause.toString());
            sendBareError(decodeError(cause));
            return;
        }
        if (exchange.current() != null) {
            ctx.close();
            return;
        }
        if (!RequestChecks.supportedVersion(request)) {
            log.debug("bad request from {}: version {}", ctx.channel().remoteAddress(), request.protocolVersion());
            sendBareError(ProxyError.HTTP_VERSION_NOT_SUPPORTED);
            return;
        }
        String problem = RequestChecks.problem(request);
        String received = request.uri();
        PathNormalization normalization = pathNormalization();
        if (problem == null) {
            // Once, before any hook or the route table sees the path, for HTTP/1.1 and HTTP/2 streams alike.
            problem = RequestChecks.normalizePath(request, normalization);
        }
        if (problem == null && !engine.limits().underscoresInHeaders()) {
            // Like nginx: X_Forwarded_For must not reach a CGI-style upstream as X-Forwarded-For.
            RequestChecks.dropUnderscoredHeaders(request.headers());
        }
        if (problem != null) {
            log.debug("bad request from {}: {}", ctx.channel().remoteAddress(), problem);
            sendBareError(ProxyError.BAD_REQUEST);
            return;
        }
        if (normalization.escapedSlashes() == PathNormalization.EscapedSlashes.REDIRECT && request.uri() != received) {
            // normalizePath replaces the target only when normalisation changed it.
            sendRedirect(request, received);
            return;
        }
        firstRequest = false;
        bytesSinceLastExchange = false;
        countRequest();
        exchange.begin(request);
    }

    /** The listener's own path normalisation, else the gateway's; looked up once per connection (or stream). */
    private PathNormalization pathNormalization() {
        PathNormalization known = pathNormalization;
        if (known == null) {
            ListenerOptions options =
                    adapter.tlsConnection(ctx.channel()).attr(LISTENER_OPTIONS).get();
            known = options != null && options.pathNormalization() != null
                    ? options.pathNormalization()
                    : engine.limits().pathNormalization();
            pathNormalization = known;
        }
        return known;
    }

    /**
     * {@code 308} to the normalised target of {@code request} (origin-form, or absolute-form as the client sent it),
     * then the connection closes like after a bare error: the client comes back with the canonical URL.
     */
    private void sendRedirect(HttpRequest request, String received) {
        FullHttpResponse response = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, HttpResponseStatus.PERMANENT_REDIRECT, Unpooled.EMPTY_BUFFER);
        response.headers()
                .set(HttpHeaderNames.LOCATION, request.uri())
                .set(HttpHeaderNames.CONTENT_LENGTH, 0)
                .set(HttpHeaderNames.CONNECTION, "close");
        log.debug("redirect {} to {}: path normalised", ctx.channel().remoteAddress(), request.uri());
        engine.countBareError(null, refusedRecord(308, null, request.method().name(), received));
        exchange.moveToClosed();
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        closing = true;
    }

    /**
     * Counts a request against the connection's limit: HTTP/1.1 answers the last one with {@code Connection: close};
     * an HTTP/2 connection drains (GOAWAY) once that many streams opened.
     */
    private void countRequest() {
        if (maxRequests <= 0) {
            return;
        }
        if (adapter.http2()) {
            Channel connection = ctx.channel().parent();
            if (connection == null) {
                return;
            }
            int[] streams = connection.attr(STREAMS).get();
            if (streams == null) {
                streams = new int[1];
                connection.attr(STREAMS).set(streams);
            }
            if (++streams[0] == maxRequests) {
                engine.countMaxRequestsReached();
                engine.drain(connection);
            }
        } else if (++requests >= maxRequests && !closing) {
            engine.countMaxRequestsReached();
            closing = true;
        }
    }

    /**
     * The TLS session of the client connection (the parent's, for an HTTP/2 stream), read once per connection and kept
     * on it as an attribute.
     */
    TlsInfo tlsInfo() {
        Channel connection = adapter.tlsConnection(ctx.channel());
        TlsInfo known = connection.attr(TLS_INFO).get();
        if (known != null) {
            return known;
        }
        SslHandler ssl = connection.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return null;
        }
        SSLSession session = ssl.engine().getSession();
        String sni = connection.attr(RAW_SERVER_NAME).get();
        if (sni == null && session instanceof ExtendedSSLSession extended) {
            try {
                for (SNIServerName name : extended.getRequestedServerNames()) {
                    if (name instanceof SNIHostName host) {
                        sni = host.getAsciiName();
                    }
                }
            } catch (IllegalArgumentException e) {
                // SNIHostName refuses an underscore, a port or a leading hyphen; the handshake accepted the name and
                // the default certificate was served, so the requests on this connection are served too.
                log.debug("SNI of {} is not a valid host name: {}", connection.remoteAddress(), e.toString());
            }
        }
        TlsInfo info = new TlsInfo(session.getProtocol(), session.getCipherSuite(), sni, ssl.applicationProtocol());
        connection.attr(TLS_INFO).set(info);
        return info;
    }

    /** The listener that accepted the client connection (the parent's, for an HTTP/2 stream), or null. */
    String listenerName() {
        Channel ch = ctx.channel();
        // An accepted connection's parent is the server channel; an HTTP/2 stream's is its connection.
        Channel connection = ch instanceof io.netty.handler.codec.http2.Http2StreamChannel ? ch.parent() : ch;
        return connection.attr(Engine.LISTENER).get();
    }

    InetSocketAddress clientAddress() {
        // The PROXY protocol header's source when a trusted peer sent one, else the TCP peer.
        InetSocketAddress a = dev.torii.internal.proxyprotocol.ClientAddresses.of(ctx.channel());
        return a != null ? a : UNKNOWN_CLIENT;
    }

    private static ProxyError decodeError(Throwable cause) {
        if (cause instanceof TooLongHttpLineException) {
            return ProxyError.URI_TOO_LONG;
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return ProxyError.HEADERS_TOO_LARGE;
        }
        if (cause instanceof TooLongFrameException) {
            return ProxyError.HEADERS_TOO_LARGE;
        }
        return ProxyError.BAD_REQUEST;
    }

    /** A failure before any exchange exists (unparseable request, header timeout): answer and close. */
    private void sendBareError(ProxyError error) {
        LocalResponse local = LocalResponder.render(engine.errorResponder(), error, null);
        FullHttpResponse response = LocalResponder.toNetty(local);
        response.headers().set(HttpHeaderNames.CONNECTION, "close");
        engine.countBareError(error, refusedRecord(local.status(), error, "", ""));
        exchange.moveToClosed();
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        closing = true;
    }

    /** The access-log record of a request answered before an exchange existed. */
    private ExchangeLog refusedRecord(int status, ProxyError error, String method, String uri) {
        return new ExchangeLog(
                System.currentTimeMillis(),
                clientAddress(),
                adapter instanceof Http2StreamAdapter ? "HTTP/2.0" : "HTTP/1.1",
                method,
                uri,
                null,
                null,
                null,
                null,
                status,
                error,
                0,
                0,
                -1,
                -1,
                0,
                0);
    }

    // ------------------------------------------------------------------ timeouts

    /** Between exchanges (HTTP/1.1 keep-alive): the wait for the next request head starts now. */
    void awaitNextHead() {
        waitSince = now();
        ensureTimer(waitSince + engine.limits().headerReadTimeout().toNanos());
    }

    /**
     * Makes sure the connection's one timer fires no later than {@code deadline}. The timer is never cancelled on the
     * normal path: when it fires it checks every deadline against the current state ({@link #onTimer}) and sets
     * itself again for the nearest one, so an exchange costs no timer operations unless a deadline moves closer.
     */
    void ensureTimer(long deadline) {
        if (timer != null) {
            if (timerAt <= deadline) {
                return;
            }
            timer.cancel(false);
        }
        timerAt = deadline;
        timer = ctx.executor().schedule(this::onTimer, Math.max(0, deadline - now()), TimeUnit.NANOSECONDS);
    }

    private void onTimer() {
        timer = null;
        if (!ctx.channel().isActive() || lingering) {
            return;
        }
        long now = now();
        long next = exchange.current() == null ? checkWaitingForHead(now) : exchange.checkTimeouts(now);
        if (next != Long.MAX_VALUE) {
            ensureTimer(next);
        }
    }

    /**
     * Between exchanges: the header read timeout from the first byte of a request (or the connection's start), the
     * idle timeout while nothing arrives. Returns the next deadline to check, or {@code Long.MAX_VALUE} once closed.
     */
    private long checkWaitingForHead(long now) {
        long headerTimeout = engine.limits().headerReadTimeout().toNanos();
        if (bytesSinceLastExchange || firstRequest) {
            long deadline = headStart + headerTimeout;
            if (now >= deadline) {
                if (bytesSinceLastExchange) {
                    // Part of a request head arrived but not all of it in time: slowloris.
                    sendBareError(ProxyError.REQUEST_TIMEOUT);
                } else {
                    ctx.close();
                }
                return Long.MAX_VALUE;
            }
            return deadline;
        }
        long deadline = waitSince + engine.limits().idleTimeout().toNanos();
        if (now >= deadline) {
            ctx.close();
            return Long.MAX_VALUE;
        }
        // Wake up within a header timeout, so that a request head that starts now is held to its deadline.
        return Math.min(deadline, now + headerTimeout);
    }
}
