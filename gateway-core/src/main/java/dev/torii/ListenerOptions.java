package dev.torii;

import dev.torii.ratelimit.Bandwidth;
import java.util.Objects;
import java.util.Optional;

/**
 * Settings that belong to one listener rather than to the whole gateway (HTTP, HTTPS and TCP listeners alike):
 * each component is one such setting, and its default is what the listener does when the setting is not given.
 * Immutable; build variants with the {@code with...} methods.
 *
 * <p>Gateway-wide defaults stay in {@link Limits} and the gateway's builder; a listener's options override them for
 * the connections that listener accepts.
 *
 * @param newConnectionsPerClient new connections per client IP address on this listener, counted in buckets of its
 *     own instead of {@link Limits#newConnectionsPerClient()}'s; empty to use the gateway-wide rate (if any)
 * @param pathNormalization how this listener's request paths are normalised, or {@code null} for the gateway-wide
 *     {@link Limits#pathNormalization()} (HTTP and HTTPS listeners; a TCP listener has no paths)
 * @param maxRequestsPerConnection requests one client connection of this listener may carry (see
 *     {@link Limits#maxRequestsPerConnection()}); 0 (the default) uses the gateway's limit, -1 lifts it for this
 *     listener
 */
public record ListenerOptions(
        Optional<Bandwidth> newConnectionsPerClient,
        PathNormalization pathNormalization,
        int maxRequestsPerConnection) {
    /** The options of a listener that sets none of its own. */
    public static final ListenerOptions DEFAULTS = new ListenerOptions(Optional.empty(), null, 0);

    public ListenerOptions {
        Objects.requireNonNull(newConnectionsPerClient, "newConnectionsPerClient");
        if (maxRequestsPerConnection < -1) {
            throw new IllegalArgumentException("maxRequestsPerConnection: " + maxRequestsPerConnection
                    + " (expected: > 0, 0 for the gateway's limit, -1 for none)");
        }
    }

    /** These options with at most {@code rate} new connections per client address on this listener. */
    public ListenerOptions withNewConnectionsPerClient(Bandwidth rate) {
        return new ListenerOptions(
                Optional.of(Objects.requireNonNull(rate, "rate")), pathNormalization, maxRequestsPerConnection);
    }

    /**
     * These options with {@code normalization} for this listener's paths in place of the gateway-wide one ({@code
     * null}: the gateway-wide one again).
     */
    public ListenerOptions withPathNormalization(PathNormalization normalization) {
        return new ListenerOptions(newConnectionsPerClient, normalization, maxRequestsPerConnection);
    }

    /** These options with {@code requests} as the listener's request limit per connection (see the component). */
    public ListenerOptions withMaxRequestsPerConnection(int requests) {
        return new ListenerOptions(newConnectionsPerClient, pathNormalization, requests);
    }

    /** The request limit per connection in effect on this listener, given the gateway's {@code limits}; 0 for none. */
    public int maxRequestsPerConnection(Limits limits) {
        return maxRequestsPerConnection == 0
                ? limits.maxRequestsPerConnection()
                : Math.max(0, maxRequestsPerConnection);
    }
}
