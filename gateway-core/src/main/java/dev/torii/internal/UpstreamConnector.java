package dev.torii.internal;

import dev.torii.ProxyError;
import dev.torii.internal.upstream.ConnectionPool;
import dev.torii.internal.upstream.UpstreamConnection;
import dev.torii.internal.upstream.UpstreamState;
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
    /** The current attempt's outcome was told to the endpoint's health (once per attempt). */
    private boolean outcomeRecorded;

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
        connect(ex, -1);
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
        InetSocketAddress literal = endpointIndex >= 0 ? upstreamState.literalAddress(endpointIndex) : null;
        if (literal != null) {
            ex.upstreamAddress = literal;
            pendingAcquire =
                    engine.pool(loop).acquire(upstreamState, endpoint, literal, false, new Acquired(ex, endpoint));
            return;
        }
        engine.resolver().resolve(endpoint, loop).addListener(f -> {
            if (!driver.connecting(ex)) {
                return;
            }
            if (!f.isSuccess()) {
                driver.responder().fail(ProxyError.DNS_FAILED, f.cause(), "cannot resolve " + endpoint.host());
                return;
            }
            InetSocketAddress address = (InetSocketAddress) f.getNow();
            ex.upstreamAddress = address;
            pendingAcquire =
                    engine.pool(loop).acquire(upstreamState, endpoint, address, false, new Acquired(ex, endpoint));
        });
    }

    /**
     * Whether {@code ex} may try once more on a fresh connection to the same endpoint, after the reused connection it
     * was sent on closed before any response: only an idempotent request without a body, and only once.
     */
    boolean mayRetryStale(DefaultExchange ex, UpstreamConnection dead, boolean requestBodyExpected) {
        return dead != null && dead.reused && !retried && isIdempotent(ex.request.method()) && !requestBodyExpected;
    }

    /** The retry {@link #mayRetryStale} allowed: a new connection, not another idle one. */
    void retryStale(DefaultExchange ex) {
        retried = true;
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
                .acquire(upstreamState, endpoint, ex.upstreamAddress, true, new Acquired(ex, endpoint));
    }

    /**
     * The upstream answered the current attempt with a head of {@code status}: a 5xx counts as a failure of the
     * endpoint for outlier detection, anything else as a success.
     */
    void responded(int status) {
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
        upstreamState = null;
        endpointIndex = -1;
        retried = false;
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
            boolean retryable = error == ProxyError.CONNECT_FAILED || error == ProxyError.UPSTREAM_TIMEOUT;
            if (retryable) {
                attemptFailed(error + " (" + cause + ")");
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
