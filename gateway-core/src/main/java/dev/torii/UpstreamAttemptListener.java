package dev.torii;

import dev.torii.upstream.Endpoint;
import java.net.InetSocketAddress;

/**
 * Told of each attempt of an exchange at its upstream: the first try and every retry (a failed connect, a reset, a
 * per-try timeout or a retried status sends the request to an endpoint again) are attempts, each started and ended
 * once. A transparent re-send on a fresh connection after a kept-alive one turned out closed, or after an HTTP/2
 * refused stream, is part of the same attempt.
 *
 * <p>A global {@link Hook} that also implements this interface is told (tracing makes a client span per attempt this
 * way). Called on the exchange's event loop; must not block. {@link #attemptStarted} may change the request's headers:
 * the head goes upstream after it returns.
 */
public interface UpstreamAttemptListener {
    /**
     * Attempt {@code attempt} (1 for the first) of {@code exchange} starts: {@code endpoint} was picked, its address
     * may still have to be resolved and a connection acquired.
     */
    void attemptStarted(Exchange exchange, int attempt, Endpoint endpoint);

    /**
     * The attempt ended: {@code status} is the upstream's response status, or 0 when none came ({@code error} then
     * says why: connect failed, DNS failed, reset, timed out...); {@code error} is null when the upstream answered.
     * {@code address} is the endpoint address connected to, or null when there was none.
     */
    void attemptEnded(Exchange exchange, int attempt, int status, ProxyError error, InetSocketAddress address);
}
