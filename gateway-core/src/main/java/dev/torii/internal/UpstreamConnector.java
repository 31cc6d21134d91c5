package dev.torii.internal;

import dev.torii.ProxyError;
import dev.torii.internal.upstream.ConnectionPool;
import dev.torii.internal.upstream.UpstreamConnection;
import dev.torii.internal.upstream.UpstreamState;
import dev.torii.route.RetryPolicy;
import dev.torii.upstream.ConnectFailure;
import dev.torii.upstream.Endpoint;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpMethod;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ExchangeState#CONNECTING} step of an exchange: picks an endpoint of the exchange's upstream (or takes
 * the hooks' override), resolves its name, acquires a pooled connection and hands it to the {@link ExchangeDriver};
 * retries once on another endpoint after a failed connect, or on a fresh connection when a reused one turns out
 * closed. Keeps the endpoint's in-flight count ({@link UpstreamState#started}/{@link UpstreamState#finished}).
 *
 * <p>Not thread-safe: confined to the client channel's event loop; reused by the exchanges of one connection.
 */
final class UpstreamConnector {
    private static final Logger log = LoggerFactory.getLogger(UpstreamConnector.class);

    private final ExchangeDriver driver;
    private final Engine engine;
    private final EventLoop loop;

    private UpstreamState upstreamState;
    private int endpointIndex = -1;
    private ConnectionPool.Pending pendingAcquire;
    /** The one retry an exchange gets (a failed connect or a stale pooled connection) was used. */
    private boolean retried;
    /** Streams of this exchange the upstream refused unprocessed (each retried, up to {@link #MAX_REFUSALS}). */
    private int refusals;

    private static final int MAX_REFUSALS = 5;
    /** The retry {@link #mayRetryStale} allowed is for a refused stream (which does not spend {@link #retried}). */
    private boolean retryingRefusal;
    /** The current attempt's outcome was told to the endpoint's health (once per attempt). */
    private boolean outcomeRecorded;
    /** The route's retry policy, or null for the built-in retries only. */
    private RetryPolicy policy;
    /** The exchange holds a place in its upstream's retry budget (given back when it ends). */
    private boolean inRetryBudget;
    /** The exchange whose attempt was started and not ended yet (for the attempt listeners), or null. */
    private DefaultExchange attemptOf;

    /** What went wrong with an attempt, for {@link #mayRetry}. */
    enum Failure {
        CONNECT,
        RESET,
        TIMEOUT,
        STATUS
    }

    UpstreamConnector(ExchangeDriver driver, Engine engine, EventLoop loop) {
        this.driver = driver;
        this.engine = engine;
        this.loop = loop;
    }

    /** The upstream the exchange goes to, or {@code null} before the UPSTREAM hooks are done. */
    UpstreamState upstream() {
        return upstreamState;
    }

    /** Starts connecting {@code ex} to an endpoint of {@code upstream}. */
    void connect(DefaultExchange ex, UpstreamState upstream) {
        this.upstreamState = upstream;
        this.policy = ex.route == null ? null : ex.route.retry();
        if (driver.multiplexed()) {
            // An HTTP/2 stream's RST_STREAM may sit in the same read as its HEADERS (a rapid-reset flood sends them
            // together): connect once the loop has handled that read, so that a stream reset meanwhile neither takes
            // an idle connection and writes its request on it, nor opens a connection of its own.
            loop.execute(() -> {
                if (driver.connecting(ex)) {
                    connect(ex, -1);
                }
            });
            return;
        }
        connect(ex, -1);
    }

    /**
     * Whether the route's retry policy lets {@code ex} be sent again after {@code failure} ({@code status} for
     * {@link Failure#STATUS}): attempts left, an idempotent request, no body (but for a failed connect, when nothing
     * was sent), no endpoint chosen by a hook, and a place in the retry budget (taken here, once per exchange).
     */
    boolean mayRetry(DefaultExchange ex, Failure failure, int status, boolean requestBodyExpected) {
        if (policy == null || upstreamState == null) {
            return false;
        }
        boolean wanted =
                switch (failure) {
                    case CONNECT -> policy.onConnectFailure();
                    case RESET -> policy.onReset();
                    // An attempt that timed out would have been answered 504.
                    case TIMEOUT -> policy.onStatuses().contains(504);
                    case STATUS -> policy.onStatuses().contains(status);
                };
        if (!wanted
                || ex.attempts >= policy.attempts()
                || !isIdempotent(ex.request.method())
                || ex.endpointOverride != null
                || failure != Failure.CONNECT && requestBodyExpected) {
            return false;
        }
        if (!inRetryBudget) {
            if (!upstreamState.startRetry(policy)) {
                log.debug("retry budget of upstream '{}' spent: {} not retried", ex.upstreamName, failure);
                return false;
            }
            inRetryBudget = true;
        }
        return true;
    }

    /** The retry {@link #mayRetry} allowed (the exchange is in CONNECTING again): another endpoint when there is one. */
    void retry(DefaultExchange ex) {
        int failed = endpointIndex;
        endpointDone();
        if (upstreamState.size() == 1) {
            connect(ex, -1);
        } else {
            connect(ex, failed);
        }
    }

    /** The current attempt's response head must come within this many nanoseconds (the per-try timeout). */
    long responseTimeoutNanos() {
        long upstreamTimeout = upstreamState.upstream.responseTimeout().toNanos();
        return policy == null || policy.perTryTimeout() == null
                ? upstreamTimeout
                : Math.min(upstreamTimeout, policy.perTryTimeout().toNanos());
    }

    private void connect(DefaultExchange ex, int exclude) {
        outcomeRecorded = false;
        Endpoint endpoint;
        if (ex.endpointOverride != null) {
            endpoint = ex.endpointOverride;
            endpointIndex = -1;
        } else {
            endpointIndex = upstreamState.pick(exclude);
            if (endpointIndex < 0) {
                driver.responder()
                        .fail(
                                ProxyError.NO_ENDPOINT,
                                null,
                                "upstream '" + ex.upstreamName + "' has no endpoint to try");
                return;
            }
            endpoint = upstreamState.endpoint(endpointIndex);
            upstreamState.started(endpointIndex);
        }
        ex.attempts++;
        startAttempt(ex, endpoint);
        InetSocketAddress literal = endpointIndex >= 0 ? upstreamState.literalAddress(endpointIndex) : null;
        if (literal != null) {
            ex.upstreamAddress = literal;
            pendingAcquire = engine.pool(loop)
                    .acquire(
                            upstreamState,
                            endpoint,
                            literal,
                            ex.clientAddress(),
                            localAddress(),
                            false,
                            new Acquired(ex, endpoint));
            return;
        }
        engine.resolver().resolve(endpoint, loop).addListener(f -> {
            if (!driver.connecting(ex)) {
                return;
            }
            if (!f.isSuccess()) {
                endAttempt(0, ProxyError.DNS_FAILED);
                engine.upstreamCounters().connectFailed(upstreamState.upstream.name(), ConnectFailure.DNS);
                driver.responder().fail(ProxyError.DNS_FAILED, f.cause(), "cannot resolve " + endpoint.host());
                return;
            }
            InetSocketAddress address = (InetSocketAddress) f.getNow();
            ex.upstreamAddress = address;
            pendingAcquire = engine.pool(loop)
                    .acquire(
                            upstreamState,
                            endpoint,
                            address,
                            ex.clientAddress(),
                            localAddress(),
                            false,
                            new Acquired(ex, endpoint));
        });
    }

    /** Where the client reached Torii (an HTTP/2 stream answers with its connection's address): a PROXY header's. */
    private InetSocketAddress localAddress() {
        return driver.ctx().channel().localAddress() instanceof InetSocketAddress a ? a : null;
    }

    /**
     * Whether {@code ex} may try once more on a fresh connection to the same endpoint, after the reused connection it
     * was sent on closed before any response: only an idempotent request without a body, and only once.
     */
    boolean mayRetryStale(DefaultExchange ex, UpstreamConnection dead, boolean requestBodyExpected) {
        if (dead == null || requestBodyExpected || !isIdempotent(ex.request.method())) {
            return false;
        }
        if (dead.refused && refusals < MAX_REFUSALS) {
            // Refused unprocessed: certain not to have reached the application, so it does not spend the one retry.
            // Under load the retry can land on another connection that is about to send its own GOAWAY, and a second
            // refusal used to answer 502.
            refusals++;
            retryingRefusal = true;
            return true;
        }
        retryingRefusal = false;
        return dead.reused && !retried;
    }

    /** The retry {@link #mayRetryStale} allowed: a new connection, not another idle one. */
    void retryStale(DefaultExchange ex) {
        if (!retryingRefusal) {
            retried = true;
        }
        retryingRefusal = false;
        int failedIndex = endpointIndex;
        endpointDone();
        // Same endpoint is fine here: the failure was the stale connection, not the endpoint.
        endpointIndex = failedIndex;
        if (endpointIndex >= 0) {
            upstreamState.started(endpointIndex);
        }
        Endpoint endpoint = endpointIndex >= 0 ? upstreamState.endpoint(endpointIndex) : ex.endpointOverride;
        // When one kept-alive connection went stale, its idle siblings may have too.
        pendingAcquire = engine.pool(loop)
                .acquire(
                        upstreamState,
                        endpoint,
                        ex.upstreamAddress,
                        ex.clientAddress(),
                        localAddress(),
                        true,
                        new Acquired(ex, endpoint));
    }

    /**
     * The upstream answered the current attempt with a head of {@code status}: a 5xx counts as a failure of the
     * endpoint for outlier detection, anything else as a success.
     */
    void responded(int status) {
        endAttempt(status, null);
        if (status >= 500) {
            attemptFailed("status " + status);
        } else if (!outcomeRecorded && endpointIndex >= 0 && upstreamState != null) {
            outcomeRecorded = true;
            upstreamState.succeeded(endpointIndex);
        }
    }

    /** The current attempt failed on its endpoint ({@code why}): counted once for outlier detection. */
    void attemptFailed(String why) {
        if (!outcomeRecorded && endpointIndex >= 0 && upstreamState != null) {
            outcomeRecorded = true;
            upstreamState.failed(endpointIndex, why);
        }
    }

    private void startAttempt(DefaultExchange ex, Endpoint endpoint) {
        endAttempt(0, null);
        var listeners = engine.attemptListeners();
        if (listeners.isEmpty()) {
            return;
        }
        attemptOf = ex;
        for (var l : listeners) {
            try {
                l.attemptStarted(ex, ex.attempts, endpoint);
            } catch (RuntimeException e) {
                log.warn("attempt listener {} failed", l, e);
            }
        }
    }

    /**
     * The current attempt ended with {@code status} (0: no response) or {@code error}: the attempt listeners hear of
     * it, once per attempt (later calls do nothing).
     */
    void endAttempt(int status, ProxyError error) {
        DefaultExchange ex = attemptOf;
        if (ex == null) {
            return;
        }
        attemptOf = null;
        for (var l : engine.attemptListeners()) {
            try {
                l.attemptEnded(ex, ex.attempts, status, error, ex.upstreamAddress);
            } catch (RuntimeException e) {
                log.warn("attempt listener {} failed", l, e);
            }
        }
    }

    /** Cancels a pending acquire. */
    void cancel() {
        if (pendingAcquire != null) {
            pendingAcquire.cancel();
            pendingAcquire = null;
        }
    }

    /** The exchange is done with its endpoint: its in-flight count goes down. */
    void endpointDone() {
        if (endpointIndex >= 0 && upstreamState != null) {
            upstreamState.finished(endpointIndex);
            endpointIndex = -1;
        }
    }

    /** Forgets the finished exchange. */
    void reset() {
        attemptOf = null;
        if (inRetryBudget) {
            inRetryBudget = false;
            if (upstreamState != null) {
                upstreamState.retryDone();
            }
        }
        policy = null;
        upstreamState = null;
        endpointIndex = -1;
        retried = false;
        refusals = 0;
        retryingRefusal = false;
        outcomeRecorded = false;
    }

    private static boolean isIdempotent(HttpMethod method) {
        return method == HttpMethod.GET
                || method == HttpMethod.HEAD
                || method == HttpMethod.OPTIONS
                || method == HttpMethod.TRACE
                || method == HttpMethod.PUT
                || method == HttpMethod.DELETE;
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
            if (!driver.connecting(owner)) {
                engine.pool(loop).release(connection, true);
                return;
            }
            driver.connected(connection, endpoint);
        }

        @Override
        public void failed(ProxyError error, Throwable cause) {
            pendingAcquire = null;
            if (!driver.connecting(owner)) {
                return;
            }
            endAttempt(0, error);
            boolean retryable = error == ProxyError.CONNECT_FAILED || error == ProxyError.UPSTREAM_TIMEOUT;
            if (retryable) {
                attemptFailed(error + " (" + cause + ")");
            }
            if (policy != null) {
                if (retryable && mayRetry(owner, Failure.CONNECT, 0, false)) {
                    log.debug("connect to {} failed ({}); retrying (attempt {})", endpoint, cause, owner.attempts + 1);
                    if (driver.moveTo(ExchangeState.CONNECTING)) {
                        retry(owner);
                    }
                    return;
                }
                driver.responder().fail(error, cause, "cannot connect to " + endpoint);
                return;
            }
            if (retryable
                    && !retried
                    && isIdempotent(owner.request.method())
                    && owner.endpointOverride == null
                    && upstreamState.size() > 1) {
                retried = true;
                log.debug("connect to {} failed ({}); retrying on another endpoint", endpoint, cause.toString());
                int failed = endpointIndex;
                endpointDone();
                if (driver.moveTo(ExchangeState.CONNECTING)) {
                    connect(owner, failed);
                }
                return;
            }
            driver.responder().fail(error, cause, "cannot connect to " + endpoint);
        }
    }
}
