package dev.torii.internal;

import static dev.torii.internal.ExchangeState.CLOSED;
import static dev.torii.internal.ExchangeState.CONNECTING;
import static dev.torii.internal.ExchangeState.ROUTING;
import static dev.torii.internal.ExchangeState.UPSTREAM_HOOKS;

import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Phase;
import dev.torii.ProxyError;
import dev.torii.internal.http1.RequestChecks;
import dev.torii.internal.tunnel.WebSocketUpgrade;
import dev.torii.internal.upstream.UpstreamConnection;
import dev.torii.internal.upstream.UpstreamState;
import dev.torii.route.Route;
import dev.torii.upstream.Endpoint;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;

/**
 * The steps of an exchange before its upstream is contacted: the exchange is created from the request head, the
 * global REQUEST hooks run ({@link ExchangeState#REQUEST_HOOKS}), the route is matched and its REQUEST hooks run
 * ({@link ExchangeState#ROUTING}), the UPSTREAM hooks run ({@link ExchangeState#UPSTREAM_HOOKS}), and the request is
 * prepared for the upstream ({@code Forwarded}/{@code Via}, hop-by-hop fields, the WebSocket upgrade) before the
 * {@link UpstreamConnector} takes over ({@link ExchangeState#CONNECTING}); its head is written once a connection
 * is there ({@link ExchangeState#FORWARDING}). A hook that answers or fails, and a
 * request with no route, go to the {@link LocalResponder}.
 *
 * <p>Not thread-safe: confined to the client channel's event loop; reused by the exchanges of one connection.
 */
final class RequestPhases {
    private final ExchangeDriver driver;
    private final ProxyHandler handler;
    private final Engine engine;
    private final ClientAdapter adapter;

    // The steps a phase run goes on with, made once (not a method reference per exchange and phase).
    private final Runnable routeStep = this::route;
    private final Runnable upstreamStep = this::upstreamPhase;
    private final Runnable forwardStep = this::forward;

    // Per connection: the peer does not change.
    private String clientIp;
    private boolean trustedClient;

    // Per exchange; reset by reset().
    private Engine.Snapshot snapshot;
    private List<Hook> routeHooks = List.of();
    /** The engine's global hooks when the head was decoded: a reload swapping them does not split an exchange. */
    private List<Hook> globalHooks = List.of();
    /** The client sent {@code TE: trailers}: passed on to an HTTP/2 upstream (gRPC needs it), where TE may only say that. */
    private boolean trailersAccepted;
    /** The request asks for a WebSocket upgrade (decided when it is forwarded, after the REQUEST hooks). */
    private boolean webSocket;

    RequestPhases(ExchangeDriver driver, ProxyHandler handler, Engine engine, ClientAdapter adapter) {
        this.driver = driver;
        this.handler = handler;
        this.engine = engine;
        this.adapter = adapter;
    }

    /** The matched route's hooks (empty before routing). */
    List<Hook> routeHooks() {
        return routeHooks;
    }

    /** The global hooks of the exchange in progress (read once, when its head was decoded). */
    List<Hook> globalHooks() {
        return globalHooks;
    }

    boolean webSocket() {
        return webSocket;
    }

    /** A request head passed the checks: creates the exchange and runs the global REQUEST hooks. */
    void begin(HttpRequest request) {
        adapter.requestAccepted(request);
        snapshot = engine.snapshot();
        globalHooks = engine.hooks();
        String host = RequestChecks.host(request);
        RequestChecks.toOriginForm(request);
        var ex = new DefaultExchange(
                handler.now(),
                request,
                adapter.protocol(request),
                host,
                handler.clientAddress(),
                handler.secure(),
                handler.ctx().channel().eventLoop(),
                snapshot.table());
        if (handler.secure()) {
            ex.tls = handler.tlsInfo();
        }
        ex.listener = handler.listenerName();
        engine.exchangeStarted();
        boolean keepAlive = adapter.clientWantsKeepAlive(request) && !handler.closing();
        boolean chunked = HttpUtil.isTransferEncodingChunked(request);
        long contentLength = HttpUtil.getContentLength(request, 0L);
        boolean bodyExpected = chunked || contentLength > 0;
        boolean expectContinue = bodyExpected && HttpUtil.is100ContinueExpected(request);
        if (!driver.started(ex, keepAlive, new RequestFraming(chunked, bodyExpected, expectContinue))) {
            return;
        }
        if (contentLength > engine.limits().maxRequestBodySize()) {
            driver.responder()
                    .fail(ProxyError.REQUEST_TOO_LARGE, null, "Content-Length " + contentLength + " is over the limit");
            return;
        }
        if (!HookRunner.any(Phase.REQUEST, globalHooks, List.of())) {
            route();
        } else {
            HookRunner.run(Phase.REQUEST, globalHooks, List.of(), ex, new Step(routeStep));
        }
    }

    private void route() {
        if (!driver.moveTo(ROUTING)) {
            return;
        }
        DefaultExchange ex = driver.current();
        Route route = snapshot.table()
                .match(
                        ex.request.method().name(),
                        ex.host,
                        ex.path(),
                        ex.request().headers());
        if (route == null) {
            driver.responder().fail(ProxyError.NO_ROUTE, null, "no route for " + ex.host + ex.path());
            return;
        }
        ex.route = route;
        ex.upstreamName = route.upstream();
        routeHooks = route.hooks();
        if (!HookRunner.any(Phase.REQUEST, routeHooks, List.of())) {
            upstreamPhase();
        } else {
            HookRunner.run(Phase.REQUEST, routeHooks, List.of(), ex, new Step(upstreamStep));
        }
    }

    private void upstreamPhase() {
        if (!driver.moveTo(UPSTREAM_HOOKS)) {
            return;
        }
        DefaultExchange ex = driver.current();
        ex.phase = Phase.UPSTREAM;
        if (!HookRunner.any(Phase.UPSTREAM, globalHooks, routeHooks)) {
            forward();
        } else {
            HookRunner.run(Phase.UPSTREAM, globalHooks, routeHooks, ex, new Step(forwardStep));
        }
    }

    private void forward() {
        if (!driver.moveTo(CONNECTING)) {
            return;
        }
        DefaultExchange ex = driver.current();
        if (clientIp == null) {
            clientIp = ex.client.getAddress().getHostAddress();
            trustedClient = Cidr.anyContains(engine.trustedProxies(), ex.client.getAddress());
        }
        trailersAccepted = HeaderRules.acceptsTrailers(ex.request.headers());
        UpstreamState upstreamState = snapshot.upstream(ex.upstreamName);
        // The upgrade needs an HTTP/1.1 upstream; an HTTP/2 one gets an ordinary GET (no RFC 8441 upstream).
        webSocket = WebSocketUpgrade.isRequest(ex.request)
                && !upstreamState.upstream.protocol().http2();
        HeaderRules.prepareUpstreamRequest(
                ex.request,
                driver.framing().chunked(),
                clientIp,
                trustedClient,
                handler.secure(),
                engine.forwarding(),
                adapter.via(engine));
        if (webSocket) {
            WebSocketUpgrade.keepUpgradeFields(ex.request.headers());
        }
        driver.connect(upstreamState);
    }

    /**
     * Writes the request head to {@code conn} (not flushed), with the {@code Host} the route asks for, and arms the
     * response timeout (and the body's idle timeout) from {@code sentNanos}; answers {@code 100 Continue} when the
     * client waits for it.
     */
    void sendHead(UpstreamConnection conn, Endpoint endpoint, long sentNanos, UpstreamState upstreamState) {
        DefaultExchange ex = driver.current();
        Route route = ex.route;
        if (route.hostRewrite() != null) {
            ex.request.headers().set(HttpHeaderNames.HOST, route.hostRewrite());
        } else if (route.hostFromEndpoint() || !ex.request.headers().contains(HttpHeaderNames.HOST)) {
            ex.request.headers().set(HttpHeaderNames.HOST, endpoint.authority());
        }
        if (conn.parent != null && trailersAccepted) {
            ex.request.headers().set(HttpHeaderNames.TE, HttpHeaderValues.TRAILERS);
        }
        // With a void promise a failed write fires exceptionCaught upstream, which closes the connection.
        conn.channel.write(ex.request, conn.channel.voidPromise());
        handler.ensureTimer(sentNanos + upstreamState.upstream.responseTimeout().toNanos());
        boolean requestComplete = driver.requestComplete();
        if (driver.framing().bodyExpected() && !requestComplete) {
            // A body that stalls is noticed after the idle timeout, not at the next header-timeout tick.
            handler.ensureTimer(sentNanos + engine.limits().idleTimeout().toNanos());
        }
        conn.channel.read();
        if (driver.framing().expectContinue() && !requestComplete) {
            handler.ctx()
                    .writeAndFlush(new DefaultFullHttpResponse(
                            HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER));
        }
    }

    /** Forgets the finished exchange. */
    void reset() {
        snapshot = null;
        routeHooks = List.of();
        trailersAccepted = false;
        webSocket = false;
    }

    /** Where a REQUEST or UPSTREAM phase run goes on. */
    private final class Step implements HookRunner.Continuation {
        private final Runnable next;
        private final DefaultExchange owner;

        Step(Runnable next) {
            this.next = next;
            this.owner = driver.current();
        }

        @Override
        public void proceed() {
            next.run();
        }

        @Override
        public void respond(HookResult.Respond r) {
            owner.phase = Phase.RESPONSE;
            driver.responder().send(r.response());
        }

        @Override
        public void fail(Hook hook, Throwable cause) {
            driver.responder().hookFailed(hook, cause);
        }

        @Override
        public boolean abandoned() {
            // Also when the client connection is closing: nothing more is proxied on it.
            return driver.current() != owner || driver.state() == CLOSED;
        }
    }
}
