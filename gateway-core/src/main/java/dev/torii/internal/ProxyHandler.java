package dev.torii.internal;

import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.LocalResponse;
import dev.torii.Phase;
import dev.torii.ProxyError;
import dev.torii.TlsInfo;
import dev.torii.internal.http1.RequestChecks;
import dev.torii.internal.http1.StrictServerCodec;
import dev.torii.internal.tunnel.Tunnel;
import dev.torii.internal.tunnel.WebSocketUpgrade;
import dev.torii.internal.upstream.ConnectionPool;
import dev.torii.internal.upstream.UpstreamConnection;
import dev.torii.internal.upstream.UpstreamListener;
import dev.torii.internal.upstream.UpstreamState;
import dev.torii.route.Route;
import dev.torii.upstream.Endpoint;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proxies the exchanges of one HTTP/1.1 client connection, one at a time (pipelined requests wait in the
 * {@code FlowControlHandler} in front of this handler until the previous response is complete).
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
 */
public final class ProxyHandler extends ChannelDuplexHandler implements UpstreamListener {
    private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);

    /** The client address of a connection that has no IP peer (an in-memory channel in tests). */
    private static final InetSocketAddress UNKNOWN_CLIENT =
            new InetSocketAddress(java.net.InetAddress.ofLiteral("0.0.0.0"), 0);

    /** A client connection's TLS session as hooks see it, computed once per connection. */
    private static final AttributeKey<TlsInfo> TLS_INFO = AttributeKey.valueOf("torii.tls");

    private final Engine engine;
    private final boolean secure;
    /** One HTTP/2 stream (one exchange, no keep-alive) rather than an HTTP/1.1 connection. */
    private final boolean http2;

    private ChannelHandlerContext ctx;
    private boolean started;
    /** HTTP/2: the write that ends the response, so that a reset for an unfinished request body waits for it. */
    private ChannelFuture lastResponseWrite;

    // Connection state.
    private boolean closing;
    private boolean clientReadPending;
    private String clientIp;
    private boolean trustedClient;
    private boolean bytesSinceLastExchange;
    private boolean firstRequest = true;
    private ScheduledFuture<?> timer;
    private long timerAt;
    private long waitSince;
    private long headStart;

    // Exchange state; reset by clearExchange().
    private DefaultExchange ex;
    private Engine.Snapshot snapshot;
    private List<Hook> routeHooks = List.of();
    private UpstreamState upstreamState;
    private int endpointIndex = -1;
    private ConnectionPool.Pending pendingAcquire;
    private UpstreamConnection conn;
    private boolean connectRetried;
    private boolean keepAlive;
    private boolean chunkedRequest;
    private boolean requestBodyExpected;
    private boolean expectContinue;
    private boolean requestComplete;
    private boolean discardingRequest;
    private boolean upstreamResponseStarted;
    /** The client sent {@code TE: trailers}: passed on to an HTTP/2 upstream (gRPC needs it), where TE may only say that. */
    private boolean trailersAccepted;

    private boolean responseHeadSent;
    private boolean responseComplete;
    private boolean closeAfterResponse;
    private boolean waitingUpstreamWritable;
    private boolean upstreamReadPaused;
    private HttpResponse upstreamResponse;
    /** Whether the upstream keeps its connection open after this response (read before the head is rewritten). */
    private boolean upstreamKeepAlive;

    private ArrayDeque<HttpContent> heldResponseContent;
    private boolean responseHooksPending;
    private boolean inUpstreamRead;
    /** The request asks for a WebSocket upgrade (decided when it is forwarded, after the REQUEST hooks). */
    private boolean webSocket;
    /** The upstream switched to WebSocket: its connection belongs to this tunnel from the 101 on. */
    private Tunnel tunnel;
    /** HTTP/1.1: the codec stopped decoding after a WebSocket upgrade request and waits for {@link #resumeCodec}. */
    private boolean codecHolding;

    private long lastUpstreamActivity;
    private long lastClientActivity;

    public ProxyHandler(Engine engine, boolean secure, boolean http2) {
        this.engine = engine;
        this.secure = secure;
        this.http2 = http2;
    }

    /** The event loop's clock: the real one, or the fake one of an {@code EmbeddedChannel} in tests. */
    private long now() {
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
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
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
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        if (ex != null && http2 && responseComplete) {
            // The stream closed as the response's last frame went out (Netty closes a stream channel once both
            // sides ended, inside that write): a normal end, so the upstream connection is kept.
            releaseUpstream(requestComplete && upstreamKeepAlive);
            finishExchange();
        } else if (ex != null) {
            if (ex.error == null) {
                ex.error = ProxyError.CLIENT_ABORTED;
            }
            if (!responseHeadSent) {
                ex.status = ProxyError.CLIENT_ABORTED.status();
            }
            releaseUpstream(false);
            finishExchange();
        }
        ctx.fireChannelInactive();
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
            closing = true;
            if (ex == null) {
                ctx.close();
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && upstreamReadPaused && conn != null) {
            upstreamReadPaused = false;
            lastUpstreamActivity = now();
            conn.channel.read();
        }
        ctx.fireChannelWritabilityChanged();
    }

    // ------------------------------------------------------------------ client messages

    /**
     * Asks for the next message from the client. The {@code FlowControlHandler} forgets a demand that the current
     * socket read did not satisfy, so {@link #channelReadComplete} asks again while one is outstanding.
     */
    private void readClient() {
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
        if (msg instanceof HttpRequest request) {
            boolean failed = request.decoderResult().isFailure();
            onRequestHead(request);
            if (msg instanceof HttpContent content) {
                if (failed) {
                    // A failed decode comes as a full request; its (empty) content is not needed.
                    content.release();
                } else {
                    // A full request (an h2c upgrade request that was not upgraded): its body, as if read next.
                    onRequestContent(content);
                }
            }
        } else if (msg instanceof HttpContent content) {
            onRequestContent(content);
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
        if (ex != null) {
            ctx.close();
            return;
        }
        String problem = RequestChecks.problem(request);
        if (problem != null) {
            log.debug("bad request from {}: {}", ctx.channel().remoteAddress(), problem);
            sendBareError(ProxyError.BAD_REQUEST);
            return;
        }
        firstRequest = false;
        bytesSinceLastExchange = false;
        // The same test the codec made when it stopped decoding after this request.
        codecHolding = !http2 && WebSocketUpgrade.isRequest(request);
        snapshot = engine.snapshot();
        String host = RequestChecks.host(request);
        RequestChecks.toOriginForm(request);
        ex = new DefaultExchange(
                now(),
                request,
                http2 ? "HTTP/2.0" : request.protocolVersion().text(),
                host,
                clientAddress(),
                secure,
                ctx.channel().eventLoop(),
                snapshot.table());
        if (secure) {
            ex.tls = tlsInfo();
        }
        engine.exchangeStarted();
        lastClientActivity = now();
        // An HTTP/2 stream carries one exchange; the connection's life is the multiplexer's business.
        keepAlive = !http2 && HeaderRules.clientWantsKeepAlive(request) && !closing;
        chunkedRequest = HttpUtil.isTransferEncodingChunked(request);
        long contentLength = HttpUtil.getContentLength(request, 0L);
        requestBodyExpected = chunkedRequest || contentLength > 0;
        expectContinue = requestBodyExpected && HttpUtil.is100ContinueExpected(request);
        if (contentLength > engine.limits().maxRequestBodySize()) {
            fail(ProxyError.REQUEST_TOO_LARGE, null, "Content-Length " + contentLength + " is over the limit");
            return;
        }
        if (engine.hooks().isEmpty()) {
            route();
        } else {
            HookRunner.run(Phase.REQUEST, engine.hooks(), List.of(), ex, new Step(this::route));
        }
    }

    /**
     * The TLS session of the client connection (the parent's, for an HTTP/2 stream), read once per connection and kept
     * on it as an attribute.
     */
    private TlsInfo tlsInfo() {
        Channel connection =
                http2 && ctx.channel().parent() != null ? ctx.channel().parent() : ctx.channel();
        TlsInfo known = connection.attr(TLS_INFO).get();
        if (known != null) {
            return known;
        }
        SslHandler ssl = connection.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return null;
        }
        SSLSession session = ssl.engine().getSession();
        String sni = null;
        if (session instanceof ExtendedSSLSession extended) {
            for (SNIServerName name : extended.getRequestedServerNames()) {
                if (name instanceof SNIHostName host) {
                    sni = host.getAsciiName();
                }
            }
        }
        TlsInfo info = new TlsInfo(session.getProtocol(), session.getCipherSuite(), sni, ssl.applicationProtocol());
        connection.attr(TLS_INFO).set(info);
        return info;
    }

    private InetSocketAddress clientAddress() {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a : UNKNOWN_CLIENT;
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

    private void route() {
        Route route = snapshot.table()
                .match(
                        ex.request.method().name(),
                        ex.host,
                        ex.path(),
                        ex.request().headers());
        if (route == null) {
            fail(ProxyError.NO_ROUTE, null, "no route for " + ex.host + ex.path());
            return;
        }
        ex.route = route;
        ex.upstreamName = route.upstream();
        routeHooks = route.hooks();
        if (routeHooks.isEmpty()) {
            upstreamPhase();
        } else {
            HookRunner.run(Phase.REQUEST, routeHooks, List.of(), ex, new Step(this::upstreamPhase));
        }
    }

    private void upstreamPhase() {
        ex.phase = Phase.UPSTREAM;
        if (engine.hooks().isEmpty() && routeHooks.isEmpty()) {
            forward();
        } else {
            HookRunner.run(Phase.UPSTREAM, engine.hooks(), routeHooks, ex, new Step(this::forward));
        }
    }

    private void forward() {
        if (clientIp == null) {
            // Per connection, not per request: the peer does not change.
            clientIp = ex.client.getAddress().getHostAddress();
            trustedClient = Cidr.anyContains(engine.trustedProxies(), ex.client.getAddress());
        }
        trailersAccepted = HeaderRules.acceptsTrailers(ex.request.headers());
        upstreamState = snapshot.upstream(ex.upstreamName);
        // The upgrade needs an HTTP/1.1 upstream; an HTTP/2 one gets an ordinary GET (no RFC 8441 upstream).
        webSocket = WebSocketUpgrade.isRequest(ex.request)
                && !upstreamState.upstream.protocol().http2();
        HeaderRules.prepareUpstreamRequest(
                ex.request,
                chunkedRequest,
                clientIp,
                trustedClient,
                secure,
                engine.forwarding(),
                http2 ? engine.via2() : engine.via11());
        if (webSocket) {
            WebSocketUpgrade.keepUpgradeFields(ex.request.headers());
        }
        connect(-1);
    }

    private void connect(int exclude) {
        Endpoint endpoint;
        if (ex.endpointOverride != null) {
            endpoint = ex.endpointOverride;
            endpointIndex = -1;
        } else {
            endpointIndex = upstreamState.pick(exclude);
            if (endpointIndex < 0) {
                fail(ProxyError.NO_ENDPOINT, null, "upstream '" + ex.upstreamName + "' has no endpoint to try");
                return;
            }
            endpoint = upstreamState.endpoint(endpointIndex);
            upstreamState.started(endpointIndex);
        }
        ex.attempts++;
        DefaultExchange current = ex;
        InetSocketAddress literal = endpointIndex >= 0 ? upstreamState.literalAddress(endpointIndex) : null;
        if (literal != null) {
            ex.upstreamAddress = literal;
            pendingAcquire = engine.pool(ctx.channel().eventLoop())
                    .acquire(upstreamState, endpoint, literal, false, new Acquired(current, endpoint));
            return;
        }
        engine.resolver().resolve(endpoint, ctx.channel().eventLoop()).addListener(f -> {
            if (ex != current) {
                return;
            }
            if (!f.isSuccess()) {
                fail(ProxyError.DNS_FAILED, f.cause(), "cannot resolve " + endpoint.host());
                return;
            }
            InetSocketAddress address = (InetSocketAddress) f.getNow();
            ex.upstreamAddress = address;
            pendingAcquire = engine.pool(ctx.channel().eventLoop())
                    .acquire(upstreamState, endpoint, address, false, new Acquired(current, endpoint));
        });
    }

    /** The outcome of a pool acquire for one exchange. */
    private final class Acquired implements ConnectionPool.AcquireCallback {
        private final DefaultExchange owner;
        private final Endpoint endpoint;

        Acquired(DefaultExchange owner, Endpoint endpoint) {
            this.owner = owner;
            this.endpoint = endpoint;
        }

        @Override
        public void acquired(UpstreamConnection connection) {
            pendingAcquire = null;
            if (ex != owner) {
                engine.pool(ctx.channel().eventLoop()).release(connection, true);
                return;
            }
            ex.upstreamConnectNanos = now() - ex.startNanos;
            conn = connection;
            conn.attach(ProxyHandler.this);
            sendRequestHead(endpoint);
        }

        @Override
        public void failed(ProxyError error, Throwable cause) {
            pendingAcquire = null;
            if (ex != owner) {
                return;
            }
            boolean retryable = error == ProxyError.CONNECT_FAILED || error == ProxyError.UPSTREAM_TIMEOUT;
            if (retryable && !connectRetried && isIdempotent(ex.request.method()) && canRetryElsewhere()) {
                connectRetried = true;
                log.debug("connect to {} failed ({}); retrying on another endpoint", endpoint, cause.toString());
                int failed = endpointIndex;
                endpointDone();
                connect(failed);
                return;
            }
            fail(error, cause, "cannot connect to " + endpoint);
        }
    }

    private boolean canRetryElsewhere() {
        return ex.endpointOverride == null && upstreamState.size() > 1;
    }

    private static boolean isIdempotent(HttpMethod method) {
        return method == HttpMethod.GET
                || method == HttpMethod.HEAD
                || method == HttpMethod.OPTIONS
                || method == HttpMethod.TRACE
                || method == HttpMethod.PUT
                || method == HttpMethod.DELETE;
    }

    private void endpointDone() {
        if (endpointIndex >= 0 && upstreamState != null) {
            upstreamState.finished(endpointIndex);
            endpointIndex = -1;
        }
    }

    private void sendRequestHead(Endpoint endpoint) {
        Route route = ex.route;
        if (route.hostRewrite() != null) {
            ex.request.headers().set(HttpHeaderNames.HOST, route.hostRewrite());
        } else if (route.hostFromEndpoint() || !ex.request.headers().contains(HttpHeaderNames.HOST)) {
            ex.request.headers().set(HttpHeaderNames.HOST, endpoint.authority());
        }
        if (conn.parent != null && trailersAccepted) {
            ex.request.headers().set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
        }
        lastUpstreamActivity = now();
        // With a void promise a failed write fires exceptionCaught upstream, which closes the connection.
        conn.channel.write(ex.request, conn.channel.voidPromise());
        ensureTimer(
                lastUpstreamActivity + upstreamState.upstream.responseTimeout().toNanos());
        if (requestBodyExpected && !requestComplete) {
            // A body that stalls is noticed after the idle timeout, not at the next header-timeout tick.
            ensureTimer(lastUpstreamActivity + engine.limits().idleTimeout().toNanos());
        }
        conn.channel.read();
        if (expectContinue && !requestComplete) {
            ctx.writeAndFlush(new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER));
        }
        if (requestComplete) {
            // A retry: the request (which had no body) ended on the first connection already.
            conn.channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, conn.channel.voidPromise());
            return;
        }
        readClientBody();
        if (conn != null) {
            conn.channel.flush();
        }
    }

    private void readClientBody() {
        if (conn.channel.isWritable()) {
            readClient();
        } else {
            waitingUpstreamWritable = true;
        }
    }

    private void onRequestContent(HttpContent content) {
        lastClientActivity = now();
        if (ex == null || discardingRequest) {
            boolean last = content instanceof LastHttpContent;
            content.release();
            if (discardingRequest && last) {
                discardingRequest = false;
                awaitNextRequest();
            } else if (discardingRequest) {
                readClient();
            }
            return;
        }
        boolean last = content instanceof LastHttpContent;
        if (content.decoderResult().isFailure()) {
            // An invalid chunk: the request must never be completed upstream, so the upstream connection goes too.
            log.debug(
                    "bad request body from {}: {}",
                    ctx.channel().remoteAddress(),
                    content.decoderResult().cause().toString());
            content.release();
            keepAlive = false;
            closeAfterResponse = true;
            if (responseHeadSent) {
                abort(ProxyError.BAD_REQUEST, "invalid request body");
            } else {
                releaseUpstream(false);
                fail(ProxyError.BAD_REQUEST, null, "invalid request body");
            }
            return;
        }
        ex.requestBodyBytes += content.content().readableBytes();
        if (ex.requestBodyBytes > engine.limits().maxRequestBodySize()) {
            content.release();
            closeAfterResponse = true;
            fail(
                    ProxyError.REQUEST_TOO_LARGE,
                    null,
                    "request body is over " + engine.limits().maxRequestBodySize());
            return;
        }
        if (last) {
            requestComplete = true;
        }
        if (conn == null) {
            // The exchange already has its answer (a local or error response): drop the rest of the body.
            content.release();
            if (!last) {
                readClient();
            } else {
                maybeFinish();
            }
            return;
        }
        conn.channel.writeAndFlush(content, conn.channel.voidPromise());
        if (last) {
            maybeFinish();
        } else if (conn.channel.isWritable()) {
            readClient();
        } else {
            waitingUpstreamWritable = true;
        }
    }

    // ------------------------------------------------------------------ upstream messages

    @Override
    public void onUpstreamMessage(HttpObject msg) {
        inUpstreamRead = true;
        lastUpstreamActivity = now();
        if (ex == null) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpResponse response) {
            if (response.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                upstreamFailed(
                        ProxyError.UPSTREAM_RESET, response.decoderResult().cause(), "invalid response");
                return;
            }
            int code = response.status().code();
            if (code == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                onSwitchingProtocols(response);
                return;
            }
            if (code < 200) {
                // 100 Continue (we never forward Expect) or 103 Early Hints: not relayed.
                ReferenceCountUtil.release(msg);
                return;
            }
            onResponseHead(response);
            if (msg instanceof HttpContent content) {
                onResponseContent(content);
            }
        } else if (msg instanceof HttpContent content) {
            if (content.decoderResult().isFailure()) {
                content.release();
                upstreamFailed(
                        ProxyError.UPSTREAM_RESET, content.decoderResult().cause(), "invalid response body");
                return;
            }
            onResponseContent(content);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * A {@code 101}: the WebSocket upgrade this exchange asked for, or an invalid response. On an upgrade the upstream
     * connection leaves the pool for a {@link Tunnel} at once (so that no byte after the 101 is decoded as HTTP), the
     * 101 goes through the RESPONSE hooks like any head, and the tunnel starts once it is written.
     */
    private void onSwitchingProtocols(HttpResponse response) {
        if (!webSocket || !WebSocketUpgrade.accepted(response, ex.request)) {
            ReferenceCountUtil.release(response);
            upstreamFailed(
                    ProxyError.UPSTREAM_RESET,
                    null,
                    webSocket
                            ? "invalid WebSocket handshake response (Upgrade or Sec-WebSocket-Accept)"
                            : "101 to a request that did not ask for an upgrade");
            return;
        }
        DefaultExchange current = ex;
        tunnel = Tunnel.takeUpstream(
                conn.channel,
                (fromClient, fromUpstream, error) -> tunnelClosed(current, fromClient, fromUpstream, error),
                engine.limits().idleTimeout().toNanos());
        onResponseHead(response);
    }

    private void tunnelClosed(DefaultExchange done, long fromClient, long fromUpstream, ProxyError error) {
        if (ex != done) {
            return;
        }
        ex.requestBodyBytes = fromClient;
        ex.responseBodyBytes = fromUpstream;
        ex.error = error;
        endpointDone();
        finishExchange();
    }

    private void onResponseHead(HttpResponse response) {
        upstreamResponseStarted = true;
        upstreamResponse = response;
        upstreamKeepAlive = HttpUtil.isKeepAlive(response);
        ex.upstreamHeadersNanos = now() - ex.startNanos;
        ex.response = response;
        HeaderRules.Framing framing =
                HeaderRules.prepareClientResponse(response, ex.request.method(), ex.request.protocolVersion());
        if (tunnel != null) {
            WebSocketUpgrade.keepUpgradeFields(response.headers());
        }
        if (framing == HeaderRules.Framing.CLOSE) {
            keepAlive = false;
        }
        DefaultExchange current = ex;
        ex.phase = Phase.RESPONSE;
        if (engine.hooks().isEmpty() && routeHooks.isEmpty()) {
            writeResponseHead();
            return;
        }
        responseHooksPending = true;
        HookRunner.run(Phase.RESPONSE, engine.hooks(), routeHooks, ex, new HookRunner.Continuation() {
            @Override
            public void proceed() {
                responseHooksPending = false;
                writeResponseHead();
            }

            @Override
            public void respond(HookResult.Respond r) {
                responseHooksPending = false;
                releaseUpstream(false);
                sendLocal(r.response());
            }

            @Override
            public void fail(Hook hook, Throwable cause) {
                responseHooksPending = false;
                hookFailed(hook, cause);
            }

            @Override
            public boolean abandoned() {
                return ex != current;
            }
        });
    }

    private void writeResponseHead() {
        HttpResponse response = upstreamResponse;
        if (!requestComplete && requestBodyExpected) {
            // The upstream answered before the whole body arrived: the rest of it cannot be framed for reuse.
            keepAlive = false;
        }
        if (tunnel != null) {
            startTunnel(response);
            return;
        }
        HeaderRules.setClientConnection(
                response, keepAlive && !closeAfterResponse && !closing, ex.request.protocolVersion());
        ex.status = response.status().code();
        responseHeadSent = true;
        ctx.write(response, ctx.voidPromise());
        ArrayDeque<HttpContent> held = heldResponseContent;
        heldResponseContent = null;
        HttpContent c;
        while (held != null && (c = held.pollFirst()) != null) {
            relayResponseContent(c);
        }
        if (!responseComplete && !inUpstreamRead) {
            // The hooks finished outside an upstream read: flush and read on, as onUpstreamReadComplete would.
            ctx.flush();
            if (upstreamReadPaused && ctx.channel().isWritable() && conn != null) {
                upstreamReadPaused = false;
                conn.channel.read();
            }
        }
    }

    /**
     * Writes the {@code 101} (HTTP/2: the {@code 200} the codec makes of it) and hands both connections to the tunnel.
     * The exchange ends when the tunnel closes.
     */
    private void startTunnel(HttpResponse response) {
        ex.status = http2 ? HttpResponseStatus.OK.code() : response.status().code();
        responseHeadSent = true;
        responseComplete = true;
        ctx.write(response, ctx.voidPromise());
        // The connection is the tunnel's now; never back to the pool.
        conn = null;
        Tunnel t = tunnel;
        tunnel = null;
        t.start(ctx, http2);
    }

    private void onResponseContent(HttpContent content) {
        if (responseHooksPending) {
            // At most one read's worth: reads stop until the RESPONSE hooks are done.
            if (heldResponseContent == null) {
                heldResponseContent = new ArrayDeque<>(4);
            }
            heldResponseContent.addLast(content);
            return;
        }
        if (!responseHeadSent) {
            content.release();
            return;
        }
        relayResponseContent(content);
    }

    private void relayResponseContent(HttpContent content) {
        ex.responseBodyBytes += content.content().readableBytes();
        boolean last = content instanceof LastHttpContent;
        if (last) {
            responseComplete = true;
            if (http2 && !requestComplete) {
                // The stream is reset once this is written (maybeFinish): keep the write's future.
                lastResponseWrite = ctx.writeAndFlush(content);
            } else {
                // A failed write reaches exceptionCaught, which closes the connection.
                ctx.writeAndFlush(content, ctx.voidPromise());
            }
            maybeFinish();
        } else {
            ctx.write(content, ctx.voidPromise());
        }
    }

    @Override
    public void onUpstreamReadComplete() {
        inUpstreamRead = false;
        if (ex == null || responseComplete) {
            return;
        }
        if (responseHeadSent) {
            ctx.flush();
        }
        if (conn == null) {
            return;
        }
        if (!upstreamResponseStarted || !responseHooksPending && ctx.channel().isWritable()) {
            conn.channel.read();
        } else {
            upstreamReadPaused = true;
        }
    }

    @Override
    public void onUpstreamInactive() {
        if (ex == null || responseComplete) {
            return;
        }
        UpstreamConnection dead = conn;
        conn = null;
        if (!upstreamResponseStarted
                && dead != null
                && dead.reused
                && !connectRetried
                && isIdempotent(ex.request.method())
                && !requestBodyExpected) {
            // A kept-alive connection the upstream had closed just as we reused it: try once on a fresh one.
            connectRetried = true;
            int failed = endpointIndex;
            endpointDone();
            connectFresh(failed);
            return;
        }
        upstreamFailed(ProxyError.UPSTREAM_RESET, null, "upstream closed the connection");
    }

    private void connectFresh(int failedIndex) {
        // Same endpoint is fine here: the failure was the stale connection, not the endpoint.
        endpointIndex = failedIndex;
        if (endpointIndex >= 0) {
            upstreamState.started(endpointIndex);
        }
        Endpoint endpoint = endpointIndex >= 0 ? upstreamState.endpoint(endpointIndex) : ex.endpointOverride;
        // A new connection, not another idle one: when one kept-alive connection went stale, its siblings may have too.
        pendingAcquire = engine.pool(ctx.channel().eventLoop())
                .acquire(upstreamState, endpoint, ex.upstreamAddress, true, new Acquired(ex, endpoint));
    }

    @Override
    public void onUpstreamWritabilityChanged(boolean writable) {
        if (writable && waitingUpstreamWritable && ex != null) {
            waitingUpstreamWritable = false;
            lastClientActivity = now();
            readClient();
        }
    }

    // ------------------------------------------------------------------ timeouts

    /**
     * Makes sure the connection's one timer fires no later than {@code deadline}. The timer is never cancelled on the
     * normal path: when it fires it checks every deadline against the current state ({@link #onTimer}) and sets
     * itself again for the nearest one, so an exchange costs no timer operations unless a deadline moves closer.
     */
    private void ensureTimer(long deadline) {
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
        if (!ctx.channel().isActive()) {
            return;
        }
        long now = now();
        long next = ex == null ? checkWaitingForHead(now) : checkExchange(now);
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

    /**
     * During an exchange: the upstream's response timeout while we wait for it, the idle timeout while the client
     * does not take the response, and the idle timeout while its body does not come.
     */
    private long checkExchange(long now) {
        if (responseComplete && requestComplete || upstreamState == null) {
            return now + engine.limits().headerReadTimeout().toNanos();
        }
        long responseTimeout = upstreamState.upstream.responseTimeout().toNanos();
        long idleTimeout = engine.limits().idleTimeout().toNanos();
        long next = Long.MAX_VALUE;
        if (!responseComplete && conn != null) {
            if (upstreamReadPaused) {
                long deadline = lastUpstreamActivity + idleTimeout;
                if (now >= deadline) {
                    abort(
                            ProxyError.CLIENT_ABORTED,
                            "client did not read the response for " + idleTimeout / 1_000_000 + " ms");
                    return Long.MAX_VALUE;
                }
                next = deadline;
            } else {
                long deadline = lastUpstreamActivity + responseTimeout;
                if (now >= deadline) {
                    upstreamFailed(
                            ProxyError.UPSTREAM_TIMEOUT,
                            null,
                            "no response within " + responseTimeout / 1_000_000 + " ms");
                    return Long.MAX_VALUE;
                }
                next = deadline;
            }
        }
        if (!requestComplete && requestBodyExpected && !waitingUpstreamWritable) {
            long deadline = lastClientActivity + idleTimeout;
            if (now >= deadline) {
                closeAfterResponse = true;
                if (responseHeadSent) {
                    abort(ProxyError.REQUEST_TIMEOUT, "request body stalled");
                } else {
                    releaseUpstream(false);
                    fail(ProxyError.REQUEST_TIMEOUT, null, "request body stalled");
                }
                return Long.MAX_VALUE;
            }
            next = Math.min(next, deadline);
        }
        // Nothing to wait for right now (hooks or DNS pending): look again within a header timeout.
        return next == Long.MAX_VALUE
                ? now + engine.limits().headerReadTimeout().toNanos()
                : next;
    }

    // ------------------------------------------------------------------ failures and local responses

    private final class Step implements HookRunner.Continuation {
        private final Runnable next;
        private final DefaultExchange owner;

        Step(Runnable next) {
            this.next = next;
            this.owner = ex;
        }

        @Override
        public void proceed() {
            next.run();
        }

        @Override
        public void respond(HookResult.Respond r) {
            ex.phase = Phase.RESPONSE;
            sendLocal(r.response());
        }

        @Override
        public void fail(Hook hook, Throwable cause) {
            hookFailed(hook, cause);
        }

        @Override
        public boolean abandoned() {
            return ex != owner;
        }
    }

    private void hookFailed(Hook hook, Throwable cause) {
        log.warn(
                "hook {} failed in phase {} for {} {}: {}",
                hook.name(),
                ex.phase,
                ex.request.method(),
                ex.originalUri,
                cause.toString());
        releaseUpstream(false);
        ex.error = ProxyError.HOOK_FAILED;
        if (responseHeadSent) {
            abort(ProxyError.HOOK_FAILED, "hook failed after the response started");
        } else {
            writeLocal(toNetty(engine.errorResponder().render(ProxyError.HOOK_FAILED, ex)));
        }
    }

    /** A failure on the upstream side: an error response if the client has not seen a head yet, else an abort. */
    private void upstreamFailed(ProxyError error, Throwable cause, String detail) {
        releaseUpstream(false);
        if (responseHeadSent) {
            abort(error, detail);
        } else {
            fail(error, cause, detail);
        }
    }

    /** Fails the exchange before the response head went out: renders {@code error} through the RESPONSE hooks. */
    private void fail(ProxyError error, Throwable cause, String detail) {
        if (log.isDebugEnabled()) {
            log.debug(
                    "{} for {} {}: {}{}",
                    error,
                    ex.request.method(),
                    ex.originalUri,
                    detail,
                    cause == null ? "" : " (" + cause + ")");
        }
        releaseUpstream(false);
        ex.error = error;
        LocalResponse response;
        try {
            response = engine.errorResponder().render(error, ex);
        } catch (RuntimeException e) {
            log.warn("error responder failed for {}", error, e);
            response = LocalResponse.text(error.status(), error.status() + " " + error.name() + "\n");
        }
        ex.phase = Phase.RESPONSE;
        sendLocal(response);
    }

    /** Ends an exchange whose response head was sent already: the client connection is closed. */
    private void abort(ProxyError error, String detail) {
        log.debug("{} for {} {} after the response started: {}", error, ex.request.method(), ex.originalUri, detail);
        ex.error = error;
        releaseUpstream(false);
        keepAlive = false;
        ctx.close();
    }

    /** Sends a local response after running the RESPONSE hooks over it. */
    private void sendLocal(LocalResponse local) {
        FullHttpResponse response = toNetty(local);
        ex.response = response;
        ex.phase = Phase.RESPONSE;
        DefaultExchange current = ex;
        if (engine.hooks().isEmpty() && routeHooks.isEmpty()) {
            writeLocal(response);
            return;
        }
        HookRunner.run(Phase.RESPONSE, engine.hooks(), routeHooks, ex, new HookRunner.Continuation() {
            @Override
            public void proceed() {
                writeLocal(response);
            }

            @Override
            public void respond(HookResult.Respond r) {
                response.release();
                writeLocal(toNetty(r.response()));
            }

            @Override
            public void fail(Hook hook, Throwable cause) {
                response.release();
                log.warn("hook {} failed in phase RESPONSE: {}", hook.name(), cause.toString());
                ex.error = ProxyError.HOOK_FAILED;
                writeLocal(toNetty(engine.errorResponder().render(ProxyError.HOOK_FAILED, ex)));
            }

            @Override
            public boolean abandoned() {
                if (ex != current) {
                    response.release();
                    return true;
                }
                return false;
            }
        });
    }

    private static FullHttpResponse toNetty(LocalResponse local) {
        var response = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(local.status()), Unpooled.wrappedBuffer(local.body()));
        for (var e : local.headers()) {
            response.headers().add(e.getKey(), e.getValue());
        }
        HttpUtil.setContentLength(response, local.body().length);
        return response;
    }

    private void writeLocal(FullHttpResponse response) {
        if (requestBodyExpected && !requestComplete) {
            // The body was not read; closing is the only safe way to end the message.
            keepAlive = false;
        }
        ex.response = response;
        ex.status = response.status().code();
        ex.responseBodyBytes =
                ex.request.method() == HttpMethod.HEAD ? 0 : response.content().readableBytes();
        HeaderRules.setClientConnection(
                response, keepAlive && !closeAfterResponse && !closing, ex.request.protocolVersion());
        responseHeadSent = true;
        responseComplete = true;
        lastResponseWrite = ctx.writeAndFlush(response);
        if (!requestComplete && !requestBodyExpected && keepAlive && !closeAfterResponse && !closing) {
            // The request has no body but its (empty) end was not read yet: consume it before the next request.
            discardingRequest = true;
            finishExchange();
            readClient();
            return;
        }
        maybeFinish();
    }

    /** A failure before any exchange exists (unparseable request, header timeout): answer and close. */
    private void sendBareError(ProxyError error) {
        LocalResponse local;
        try {
            local = engine.errorResponder().render(error, null);
        } catch (RuntimeException e) {
            local = LocalResponse.text(error.status(), error.status() + " " + error.name() + "\n");
        }
        FullHttpResponse response = toNetty(local);
        response.headers().set(HttpHeaderNames.CONNECTION, "close");
        engine.countBareError(error);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        closing = true;
    }

    // ------------------------------------------------------------------ completion

    private void maybeFinish() {
        if (!responseComplete || !(requestComplete || !keepAlive || closeAfterResponse)) {
            return;
        }
        if (conn != null) {
            // Read before the head was rewritten for the client (whose Connection header may say close).
            boolean reusable = requestComplete && upstreamKeepAlive;
            releaseUpstream(reusable);
        }
        boolean reuseClient = keepAlive && !closeAfterResponse && !closing && requestComplete;
        // An extended CONNECT that was refused: the client's side of the stream is still open for the tunnel.
        boolean requestEnded = requestComplete && !webSocket;
        finishExchange();
        if (http2) {
            if (!requestEnded) {
                // The response is complete but the request body is not: reset the stream once the response is out.
                ChannelFuture last = lastResponseWrite;
                if (last != null) {
                    last.addListener(ChannelFutureListener.CLOSE);
                } else {
                    ctx.close();
                }
            }
            // Otherwise both ends of the stream are closed and the stream channel closes itself.
            lastResponseWrite = null;
        } else if (reuseClient) {
            awaitNextRequest();
        } else {
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private void awaitNextRequest() {
        if (closing || !ctx.channel().isActive()) {
            ctx.close();
            return;
        }
        waitSince = now();
        ensureTimer(waitSince + engine.limits().headerReadTimeout().toNanos());
        resumeCodec();
        readClient();
    }

    /** After a WebSocket upgrade request that was answered without an upgrade: decode the next request. */
    private void resumeCodec() {
        if (codecHolding) {
            codecHolding = false;
            StrictServerCodec codec = ctx.pipeline().get(StrictServerCodec.class);
            if (codec != null) {
                codec.resume();
            }
        }
    }

    private void releaseUpstream(boolean reusable) {
        if (pendingAcquire != null) {
            pendingAcquire.cancel();
            pendingAcquire = null;
        }
        UpstreamConnection c = conn;
        conn = null;
        if (c != null) {
            // A connection taken by a tunnel that never started is closed here too (never reusable).
            engine.pool(ctx.channel().eventLoop()).release(c, reusable && tunnel == null);
        }
        tunnel = null;
        if (heldResponseContent != null) {
            HttpContent held;
            while ((held = heldResponseContent.pollFirst()) != null) {
                held.release();
            }
        }
        endpointDone();
    }

    private void finishExchange() {
        DefaultExchange done = ex;
        if (done == null) {
            return;
        }
        if (done.status == 0) {
            done.status = done.error == null ? 200 : done.error.status();
        }
        done.finish(now());
        engine.exchangeFinished(done);
        // Reset for the next exchange on this connection.
        ex = null;
        snapshot = null;
        routeHooks = List.of();
        upstreamState = null;
        endpointIndex = -1;
        connectRetried = false;
        chunkedRequest = false;
        requestBodyExpected = false;
        expectContinue = false;
        requestComplete = false;
        upstreamResponseStarted = false;
        trailersAccepted = false;
        responseHeadSent = false;
        responseComplete = false;
        waitingUpstreamWritable = false;
        upstreamReadPaused = false;
        upstreamResponse = null;
        upstreamKeepAlive = false;
        heldResponseContent = null;
        responseHooksPending = false;
        inUpstreamRead = false;
        webSocket = false;
        tunnel = null;
    }
}
