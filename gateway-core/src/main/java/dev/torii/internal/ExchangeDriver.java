package dev.torii.internal;

import static dev.torii.internal.ExchangeState.CLOSED;
import static dev.torii.internal.ExchangeState.CONNECTING;
import static dev.torii.internal.ExchangeState.DISCARDING;
import static dev.torii.internal.ExchangeState.FINISHING;
import static dev.torii.internal.ExchangeState.FORWARDING;
import static dev.torii.internal.ExchangeState.IDLE;
import static dev.torii.internal.ExchangeState.REQUEST_HOOKS;
import static dev.torii.internal.ExchangeState.TUNNEL;

import dev.torii.Hook;
import dev.torii.ProxyError;
import dev.torii.internal.http1.RequestChecks;
import dev.torii.internal.upstream.UpstreamConnection;
import dev.torii.internal.upstream.UpstreamState;
import dev.torii.upstream.Endpoint;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives the exchanges of one client side (an HTTP/1.1 connection's, in turn, or an HTTP/2 stream's one) through
 * their {@link ExchangeState}s: the REQUEST hooks, routing, the UPSTREAM hooks, connecting, forwarding the request,
 * the RESPONSE hooks, relaying the response (or a local one, or a tunnel), and the end. Every state change goes
 * through {@link #moveTo}, which refuses a transition that {@link ExchangeState} does not declare: it throws when
 * assertions are on (tests), and otherwise logs at ERROR and closes the client connection rather than write a
 * corrupt response.
 *
 * <p>Beside the state, three facts are orthogonal to it and kept as flags: the request side is complete, a response
 * head reached the client, the client connection is kept alive. The rest are read-demand flags (backpressure in
 * either direction).
 *
 * <p>The {@link ProxyHandler} feeds it client events; the upstream connection reports to its {@link ResponseRelay};
 * the {@link UpstreamConnector} finds it a connection; the {@link ClientAdapter} decides where HTTP/1.1 and HTTP/2
 * differ.
 *
 * <p>Not thread-safe: confined to the client channel's event loop.
 */
final class ExchangeDriver {
    private static final Logger log = LoggerFactory.getLogger(ExchangeDriver.class);

    /** An illegal transition throws (assertions on, as in tests) instead of being logged and failing the exchange. */
    static final boolean STRICT =
            ExchangeDriver.class.desiredAssertionStatus() || Boolean.getBoolean("torii.exchange.strict");

    private final ProxyHandler handler;
    private final Engine engine;
    private final ClientAdapter adapter;
    private final RequestPhases phases;
    private final ResponseRelay relay;
    private final LocalResponder responder;
    private UpstreamConnector upstream;
    private ExchangeState state = IDLE;
    private boolean strict = STRICT;
    /** Tests: told of every transition. */
    private BiConsumer<ExchangeState, ExchangeState> observer;

    // Per exchange; reset by finishExchange().
    private DefaultExchange ex;
    private UpstreamConnection conn;
    private RequestFraming framing = RequestFraming.NONE;
    /** The request's last part was read. */
    private boolean requestComplete;
    /** A response head (upstream or local) was written to the client: a failure can only abort now. */
    private boolean responseStarted;
    /** The client connection carries another exchange after this one. */
    private boolean keepAlive;
    /** Client reads wait until the upstream connection is writable again. */
    private boolean waitingUpstreamWritable;

    private long lastClientActivity;

    ExchangeDriver(ProxyHandler handler, Engine engine, ClientAdapter adapter) {
        this.handler = handler;
        this.engine = engine;
        this.adapter = adapter;
        this.phases = new RequestPhases(this, handler, engine, adapter);
        this.relay = new ResponseRelay(this, handler, engine, adapter);
        this.responder = new LocalResponder(this, handler, engine, adapter);
    }

    ExchangeState state() {
        return state;
    }

    /** The exchange in progress, or {@code null} between exchanges. */
    DefaultExchange current() {
        return ex;
    }

    /** Tests: whether an illegal transition throws ({@link #STRICT} by default). */
    void strict(boolean strict) {
        this.strict = strict;
    }

    /** Tests: {@code observer} hears every transition, after it happened. */
    void observe(BiConsumer<ExchangeState, ExchangeState> observer) {
        this.observer = observer;
    }

    // ------------------------------------------------------------------ the state machine

    /**
     * Moves to {@code next} if {@link ExchangeState} allows it from the current state. An illegal transition throws
     * when strict ({@link #STRICT}); otherwise it is logged at ERROR, the exchange is failed (upstream released, client
     * connection closed) and this returns false: the caller must stop.
     */
    boolean moveTo(ExchangeState next) {
        ExchangeState from = state;
        if (!from.allows(next)) {
            illegal(from, next);
            return false;
        }
        state = next;
        if (observer != null) {
            observer.accept(from, next);
        }
        return true;
    }

    /** Moves to {@link ExchangeState#CLOSED} unless there already. */
    void moveToClosed() {
        if (state != CLOSED) {
            moveTo(CLOSED);
        }
    }

    private void illegal(ExchangeState from, ExchangeState next) {
        String message =
                "illegal exchange transition " + from + " -> " + next + " (expected one of " + from.successors() + ")";
        log.error(
                "{} for {} {}; {}",
                message,
                ex == null ? "-" : ex.request.method(),
                ex == null ? "-" : ex.originalUri,
                strict ? "throwing" : "closing the client connection");
        if (strict) {
            throw new IllegalStateException(message);
        }
        if (ex != null) {
            releaseUpstream(false);
        }
        keepAlive = false;
        state = CLOSED;
        handler.ctx().close();
    }

    /** Whether {@code owner} is still the exchange and still waits for its upstream connection. */
    boolean connecting(DefaultExchange owner) {
        return ex == owner && state == CONNECTING;
    }

    /** Whether no part of the exchange (if any) went upstream yet: hooks, routing or connecting in progress. */
    boolean nothingSentUpstream() {
        return switch (state) {
            case IDLE, REQUEST_HOOKS, ROUTING, UPSTREAM_HOOKS, CONNECTING -> true;
            default -> false;
        };
    }

    /** Whether the client side is an HTTP/2 stream (one of many on its connection). */
    boolean multiplexed() {
        return adapter.http2();
    }

    boolean responseComplete() {
        return state == FINISHING || state == TUNNEL;
    }

    private long now() {
        return handler.now();
    }

    ChannelHandlerContext ctx() {
        return handler.ctx();
    }

    // ------------------------------------------------------------------ request side

    /** A request head passed the checks: the exchange starts. */
    void begin(HttpRequest request) {
        phases.begin(request);
    }

    /** {@link RequestPhases} created {@code exchange}: it enters {@link ExchangeState#REQUEST_HOOKS}. */
    boolean started(DefaultExchange exchange, boolean clientKeepAlive, RequestFraming requestFraming) {
        ex = exchange;
        if (!moveTo(REQUEST_HOOKS)) {
            return false;
        }
        lastClientActivity = now();
        keepAlive = clientKeepAlive;
        framing = requestFraming;
        return true;
    }

    /** The request is ready for {@code upstreamState}: find it a connection. */
    void connect(UpstreamState upstreamState) {
        if (upstream == null) {
            upstream = new UpstreamConnector(this, engine, ctx().channel().eventLoop());
        }
        upstream.connect(ex, upstreamState);
    }

    /** The {@link UpstreamConnector} acquired {@code connection} for the exchange: the request goes upstream. */
    void connected(UpstreamConnection connection, Endpoint endpoint) {
        ex.upstreamConnectNanos = now() - ex.startNanos;
        conn = connection;
        conn.attach(relay);
        if (!moveTo(FORWARDING)) {
            return;
        }
        long sent = relay.requestSent();
        phases.sendHead(conn, endpoint, sent, upstream.upstream());
        long perTry = upstream.responseTimeoutNanos();
        if (perTry < upstream.upstream().upstream.responseTimeout().toNanos()) {
            // A per-try timeout shorter than the upstream's: the connection's timer must look at it in time.
            handler.ensureTimer(sent + perTry);
        }
        if (requestComplete) {
            // A retry: the request (which had no body) ended on the first connection already.
            conn.channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, conn.channel.voidPromise());
            return;
        }
        if (conn.channel.isWritable()) {
            handler.readClient();
        } else {
            waitingUpstreamWritable = true;
        }
        if (conn != null && !requestComplete) {
            // A request that ended within that read went out with its last part's flush; else the head goes now.
            conn.channel.flush();
        }
    }

    /** A request body part from the client (or the empty end of a request without one). */
    void onRequestContent(HttpContent content) {
        lastClientActivity = now();
        boolean last = content instanceof LastHttpContent;
        if (state == DISCARDING) {
            content.release();
            if (last) {
                adapter.requestDiscarded();
            } else {
                handler.readClient();
            }
            return;
        }
        if (ex == null || state == CLOSED) {
            content.release();
            return;
        }
        if (content.decoderResult().isFailure()) {
            // An invalid chunk: the request must never be completed upstream, so the upstream connection goes too.
            log.debug(
                    "bad request body from {}: {}",
                    ctx().channel().remoteAddress(),
                    content.decoderResult().cause().toString());
            content.release();
            keepAlive = false;
            if (responseStarted) {
                responder.abort(ProxyError.BAD_REQUEST, "invalid request body");
            } else {
                releaseUpstream(false);
                responder.fail(ProxyError.BAD_REQUEST, null, "invalid request body");
            }
            return;
        }
        ex.requestBodyBytes += content.content().readableBytes();
        if (ex.requestBodyBytes > engine.limits().maxRequestBodySize()) {
            content.release();
            keepAlive = false;
            String detail = "request body is over " + engine.limits().maxRequestBodySize();
            if (responseStarted) {
                // The upstream answered early and its response is being relayed: no second response can follow.
                responder.abort(ProxyError.REQUEST_TOO_LARGE, detail);
            } else {
                responder.fail(ProxyError.REQUEST_TOO_LARGE, null, detail);
            }
            return;
        }
        if (last) {
            requestComplete = true;
            if (!((LastHttpContent) content).trailingHeaders().isEmpty()) {
                RequestChecks.dropForbiddenTrailers(
                        ((LastHttpContent) content).trailingHeaders(),
                        engine.limits().underscoresInHeaders());
            }
        }
        if (conn == null) {
            // The exchange already has its answer (a local or error response): drop the rest of the body.
            content.release();
            if (!last) {
                handler.readClient();
            } else {
                maybeFinish();
            }
            return;
        }
        conn.channel.writeAndFlush(content, conn.channel.voidPromise());
        if (last) {
            maybeFinish();
        } else if (conn.channel.isWritable()) {
            handler.readClient();
        } else {
            waitingUpstreamWritable = true;
        }
    }

    /** The client connection can take more: resume reading a paused upstream. */
    void clientWritable() {
        relay.clientWritable();
    }

    /** The upstream connection crossed a water mark: client body reads resume once it is writable. */
    void upstreamWritabilityChanged(boolean writable) {
        if (writable && waitingUpstreamWritable && ex != null) {
            waitingUpstreamWritable = false;
            lastClientActivity = now();
            handler.readClient();
        }
    }

    /** The client channel closed: the exchange in progress ends (normally for a completed HTTP/2 stream). */
    void clientClosed() {
        if (ex != null && adapter.closesWhenComplete() && responseComplete()) {
            // The stream closed as the response's last frame went out (Netty closes a stream channel once both
            // sides ended, inside that write): a normal end, so the upstream connection is kept.
            releaseUpstream(requestComplete && relay.upstreamKeepAlive());
            finishExchange();
        } else if (ex != null) {
            if (ex.error == null) {
                ex.error = ProxyError.CLIENT_ABORTED;
            }
            if (!responseStarted) {
                ex.status = ProxyError.CLIENT_ABORTED.status();
            }
            releaseUpstream(false);
            finishExchange();
        }
        moveToClosed();
    }

    // ------------------------------------------------------------------ what the response relay reads and sets

    /** Where failures and local responses go. */
    LocalResponder responder() {
        return responder;
    }

    UpstreamConnection connection() {
        return conn;
    }

    /** Takes the upstream connection away from the exchange (closed, or a tunnel's now) without releasing it. */
    UpstreamConnection detachConnection() {
        UpstreamConnection c = conn;
        conn = null;
        return c;
    }

    List<Hook> routeHooks() {
        return phases.routeHooks();
    }

    List<Hook> globalHooks() {
        return phases.globalHooks();
    }

    boolean webSocket() {
        return phases.webSocket();
    }

    RequestFraming framing() {
        return framing;
    }

    boolean keepAlive() {
        return keepAlive;
    }

    boolean requestComplete() {
        return requestComplete;
    }

    boolean responseStarted() {
        return responseStarted;
    }

    void markResponseStarted() {
        responseStarted = true;
    }

    /** The client connection closes after this exchange. */
    void noKeepAlive() {
        keepAlive = false;
    }

    /** The upstream's response head (rewritten by the hooks) is about to be written to the client. */
    void responseHeadWritten(HttpResponse response) {
        HeaderRules.setClientConnection(response, keepAlive && !handler.closing(), ex.request.protocolVersion());
        ex.status = response.status().code();
        responseStarted = true;
    }

    /** The upstream's response head (status {@code status}) arrived: the endpoint's health hears of it. */
    void upstreamResponded(int status) {
        if (upstream != null) {
            upstream.responded(status);
        }
    }

    /**
     * The upstream side failed ({@code error}) after a connection was acquired: the endpoint's health hears of it, and
     * the route's retry policy may send the request to another endpoint. Returns true when it did (the failure is
     * handled).
     */
    boolean upstreamAttemptFailed(ProxyError error) {
        if (upstream == null
                || error != ProxyError.UPSTREAM_RESET
                        && error != ProxyError.UPSTREAM_TIMEOUT
                        && error != ProxyError.CONNECT_FAILED) {
            return false;
        }
        upstream.attemptFailed(error.name());
        upstream.endAttempt(0, error);
        if (state != FORWARDING || responseStarted || relay.started()) {
            return false;
        }
        UpstreamConnector.Failure failure = error == ProxyError.UPSTREAM_TIMEOUT
                ? UpstreamConnector.Failure.TIMEOUT
                : UpstreamConnector.Failure.RESET;
        if (!upstream.mayRetry(ex, failure, 0, framing.bodyExpected())) {
            return false;
        }
        log.debug("{} for {} {}: retrying (attempt {})", error, ex.request.method(), ex.originalUri, ex.attempts + 1);
        retryElsewhere();
        return true;
    }

    /**
     * The upstream answered {@code status} before anything went to the client: when the route's retry policy retries
     * on it, the response is dropped (its connection closed) and the request goes to another endpoint. Returns true
     * then; the caller releases the message.
     */
    boolean retryOnStatus(int status) {
        if (upstream == null
                || status < 500
                || state != FORWARDING
                || responseStarted
                || !upstream.mayRetry(ex, UpstreamConnector.Failure.STATUS, status, framing.bodyExpected())) {
            return false;
        }
        log.debug(
                "status {} for {} {}: retrying (attempt {})",
                status,
                ex.request.method(),
                ex.originalUri,
                ex.attempts + 1);
        retryElsewhere();
        return true;
    }

    /** Gives up the current attempt's connection (closed, not pooled) and connects again. */
    private void retryElsewhere() {
        UpstreamConnection c = conn;
        conn = null;
        relay.release();
        if (c != null) {
            engine.pool(ctx().channel().eventLoop()).release(c, false);
        }
        waitingUpstreamWritable = false;
        if (moveTo(CONNECTING)) {
            upstream.retry(ex);
        }
    }

    boolean mayRetryStale(UpstreamConnection dead) {
        return upstream.mayRetryStale(ex, dead, framing.bodyExpected());
    }

    void retryStale() {
        if (moveTo(CONNECTING)) {
            upstream.retryStale(ex);
        }
    }

    void tunnelClosed(DefaultExchange done, long fromClient, long fromUpstream, ProxyError error) {
        if (ex != done) {
            return;
        }
        ex.requestBodyBytes = fromClient;
        ex.responseBodyBytes = fromUpstream;
        ex.error = error;
        upstream.endpointDone();
        finishExchange();
        moveToClosed();
    }

    // ------------------------------------------------------------------ timeouts

    /**
     * During an exchange: the upstream's response timeout while we wait for it, the idle timeout while the client
     * does not take the response, and the idle timeout while its body does not come. Returns the next deadline to
     * check, or {@code Long.MAX_VALUE} once the exchange failed.
     */
    long checkTimeouts(long now) {
        UpstreamState upstreamState = upstream == null ? null : upstream.upstream();
        if (responseComplete() && requestComplete || upstreamState == null) {
            return now + engine.limits().headerReadTimeout().toNanos();
        }
        // Waiting for the head, one attempt gets the route's per-try timeout (when shorter).
        long responseTimeout = state == FORWARDING
                ? upstream.responseTimeoutNanos()
                : upstreamState.upstream.responseTimeout().toNanos();
        long idleTimeout = engine.limits().idleTimeout().toNanos();
        long next = Long.MAX_VALUE;
        if (!responseComplete() && conn != null) {
            if (relay.readPaused()) {
                long deadline = relay.lastUpstreamActivity() + idleTimeout;
                if (now >= deadline) {
                    responder.abort(
                            ProxyError.CLIENT_ABORTED,
                            "client did not read the response for " + idleTimeout / 1_000_000 + " ms");
                    return Long.MAX_VALUE;
                }
                next = deadline;
            } else {
                long deadline = relay.lastUpstreamActivity() + responseTimeout;
                if (now >= deadline) {
                    responder.upstreamFailed(
                            ProxyError.UPSTREAM_TIMEOUT,
                            null,
                            "no response within " + responseTimeout / 1_000_000 + " ms");
                    // A retry (the per-try timeout) carries on with a new attempt, whose own deadlines count now.
                    return state == CONNECTING || state == FORWARDING ? checkTimeouts(now) : Long.MAX_VALUE;
                }
                next = deadline;
            }
        }
        if (!requestComplete && framing.bodyExpected() && !waitingUpstreamWritable) {
            long deadline = lastClientActivity + idleTimeout;
            if (now >= deadline) {
                keepAlive = false;
                if (responseStarted) {
                    responder.abort(ProxyError.REQUEST_TIMEOUT, "request body stalled");
                } else {
                    releaseUpstream(false);
                    responder.fail(ProxyError.REQUEST_TIMEOUT, null, "request body stalled");
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

    // ------------------------------------------------------------------ completion

    /** Ends the exchange once the response is complete and the request side is complete or need not be. */
    void maybeFinish() {
        if (state != FINISHING || !(requestComplete || !keepAlive)) {
            return;
        }
        if (conn != null) {
            // Read before the head was rewritten for the client (whose Connection header may say close).
            releaseUpstream(requestComplete && relay.upstreamKeepAlive());
        }
        boolean reuseClient = keepAlive && !handler.closing() && requestComplete;
        // An extended CONNECT that was refused: the client's side of the stream is still open for the tunnel.
        boolean requestEnded = requestComplete && !phases.webSocket();
        finishExchange();
        adapter.exchangeEnded(requestEnded, reuseClient);
    }

    void releaseUpstream(boolean reusable) {
        if (upstream != null) {
            upstream.cancel();
        }
        boolean poolable = relay.release();
        UpstreamConnection c = conn;
        conn = null;
        if (c != null) {
            // A connection taken by a tunnel that never started is closed here too (never reusable).
            engine.pool(ctx().channel().eventLoop()).release(c, reusable && poolable);
        }
        if (upstream != null) {
            upstream.endpointDone();
        }
    }

    void finishExchange() {
        DefaultExchange done = ex;
        if (done == null) {
            return;
        }
        if (done.status == 0) {
            done.status = done.error == null ? 200 : done.error.status();
        }
        if (upstream != null) {
            // An attempt still open got no response head: it ends with the exchange's error.
            upstream.endAttempt(0, done.error);
        }
        done.finish(now());
        engine.exchangeFinished(done);
        // Reset for the next exchange on this connection.
        ex = null;
        phases.reset();
        if (upstream != null) {
            upstream.reset();
        }
        relay.reset();
        framing = RequestFraming.NONE;
        requestComplete = false;
        responseStarted = false;
        waitingUpstreamWritable = false;
    }
}
