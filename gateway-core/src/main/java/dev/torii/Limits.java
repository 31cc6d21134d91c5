package dev.torii;

import dev.torii.ratelimit.Bandwidth;
import java.time.Duration;
import java.util.Optional;

/**
 * Limits on what clients may send and how long they may take, each answered with a clear status. Immutable; build
 * with {@link #builder()}.
 *
 * @param maxRequestLineLength bytes in the request line; longer gets 414
 * @param maxHeaderSize bytes in all request header lines together; more gets 431
 * @param maxRequestBodySize bytes of request body; more gets 413 ({@code Long.MAX_VALUE}: no limit, like Envoy)
 * @param headerReadTimeout time from the first byte of a request (or the connection's start) until its head is
 *     complete; then 408 and close (slowloris)
 * @param idleTimeout time a keep-alive client connection may sit with no request in progress
 * @param maxConnections client connections open at once per gateway; more are closed at once
 * @param maxConnectionsPerClient client connections open at once per client IP address over every http, https and
 *     tcp listener (nginx's {@code limit_conn}); more are closed at accept; 0 for no such limit (the default)
 * @param shutdownTimeout how long {@link Gateway#close()} lets in-flight exchanges finish
 * @param pathNormalization how request paths are normalised before hooks and routing (on by default)
 * @param underscoresInHeaders whether request header fields whose names contain {@code _} are forwarded ({@code
 *     false}, the default, drops them like nginx's {@code underscores_in_headers off}: a {@code X_Forwarded_For}
 *     would otherwise reach CGI-style upstreams as {@code X-Forwarded-For})
 * @param maxRequestsPerConnection requests one client connection may carry (nginx's {@code keepalive_requests},
 *     Envoy's {@code max_requests_per_connection}): HTTP/1.1 gets {@code Connection: close} on the response to the
 *     last one, HTTP/2 a graceful GOAWAY once that many streams opened; 0 (the default) for no limit. A listener's
 *     {@link ListenerOptions#maxRequestsPerConnection()} overrides it
 */
public record Limits(
        int maxRequestLineLength,
        int maxHeaderSize,
        long maxRequestBodySize,
        Duration headerReadTimeout,
        Duration idleTimeout,
        int maxConnections,
        Duration shutdownTimeout,
        int maxConnectionsPerClient,
        PathNormalization pathNormalization,
        boolean underscoresInHeaders,
        Optional<Bandwidth> newConnectionsPerClient,
        Optional<MinBodyRate> minRequestBodyRate,
        int maxRequestsPerConnection) {

    public Limits {
        if (minRequestBodyRate == null) {
            throw new IllegalArgumentException("minRequestBodyRate: null (expected: a rate, or empty)");
        }
        if (newConnectionsPerClient == null) {
            throw new IllegalArgumentException("newConnectionsPerClient: null (expected: a rate, or empty)");
        }
        if (pathNormalization == null) {
            throw new IllegalArgumentException("pathNormalization: null (expected: a PathNormalization)");
        }
        positive("maxRequestLineLength", maxRequestLineLength);
        positive("maxHeaderSize", maxHeaderSize);
        if (maxRequestBodySize < 0) {
            throw new IllegalArgumentException("maxRequestBodySize: " + maxRequestBodySize + " (expected: >= 0)");
        }
        positive("headerReadTimeout", headerReadTimeout);
        positive("idleTimeout", idleTimeout);
        positive("maxConnections", maxConnections);
        if (maxConnectionsPerClient < 0) {
            throw new IllegalArgumentException(
                    "maxConnectionsPerClient: " + maxConnectionsPerClient + " (expected: >= 0, 0 for no limit)");
        }
        if (maxRequestsPerConnection < 0) {
            throw new IllegalArgumentException(
                    "maxRequestsPerConnection: " + maxRequestsPerConnection + " (expected: >= 0, 0 for no limit)");
        }
        if (shutdownTimeout == null || shutdownTimeout.isNegative()) {
            throw new IllegalArgumentException("shutdownTimeout: " + shutdownTimeout + " (expected: >= 0)");
        }
    }

    private static void positive(String what, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(what + ": " + value + " (expected: > 0)");
        }
    }

    private static void positive(String what, Duration value) {
        if (value == null || value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(what + ": " + value + " (expected: > 0)");
        }
    }

    /** The defaults: 8 KiB request line, 32 KiB headers, no body limit, 10 s header read, 60 s idle, 10,000 conns. */
    public static Limits defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link Limits}; starts from the defaults. Not thread-safe. */
    public static final class Builder {
        private int maxRequestLineLength = 8192;
        private int maxHeaderSize = 32 * 1024;
        private long maxRequestBodySize = Long.MAX_VALUE;
        private Duration headerReadTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(60);
        private int maxConnections = 10_000;
        private Duration shutdownTimeout = Duration.ofSeconds(30);
        private int maxConnectionsPerClient;
        private PathNormalization pathNormalization = PathNormalization.defaults();
        private boolean underscoresInHeaders;
        private Optional<Bandwidth> newConnectionsPerClient = Optional.empty();
        private Optional<MinBodyRate> minRequestBodyRate = Optional.empty();
        private int maxRequestsPerConnection;

        private Builder() {}

        public Builder maxRequestLineLength(int bytes) {
            this.maxRequestLineLength = bytes;
            return this;
        }

        public Builder maxHeaderSize(int bytes) {
            this.maxHeaderSize = bytes;
            return this;
        }

        public Builder maxRequestBodySize(long bytes) {
            this.maxRequestBodySize = bytes;
            return this;
        }

        public Builder headerReadTimeout(Duration timeout) {
            this.headerReadTimeout = timeout;
            return this;
        }

        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = timeout;
            return this;
        }

        public Builder maxConnections(int connections) {
            this.maxConnections = connections;
            return this;
        }

        /** At most {@code connections} open at once per client IP address; 0 (the default) for no such limit. */
        public Builder maxConnectionsPerClient(int connections) {
            this.maxConnectionsPerClient = connections;
            return this;
        }

        public Builder shutdownTimeout(Duration timeout) {
            this.shutdownTimeout = timeout;
            return this;
        }

        public Builder pathNormalization(PathNormalization normalization) {
            this.pathNormalization = normalization;
            return this;
        }

        /** Whether header names with {@code _} are forwarded; by default they are dropped. */
        public Builder underscoresInHeaders(boolean allow) {
            this.underscoresInHeaders = allow;
            return this;
        }

        /**
         * At most {@code rate} new connections per client IP address (one token bucket per address over every
         * listener without a rate of its own); {@code null} (the default) for no such limit.
         */
        public Builder newConnectionsPerClient(Bandwidth rate) {
            this.newConnectionsPerClient = Optional.ofNullable(rate);
            return this;
        }

        /** The slowest a request body may arrive; {@code null} (the default) for no such limit. */
        public Builder minRequestBodyRate(MinBodyRate rate) {
            this.minRequestBodyRate = Optional.ofNullable(rate);
            return this;
        }

        /** At most {@code requests} per client connection; 0 (the default) for no limit. */
        public Builder maxRequestsPerConnection(int requests) {
            this.maxRequestsPerConnection = requests;
            return this;
        }

        public Limits build() {
            return new Limits(
                    maxRequestLineLength,
                    maxHeaderSize,
                    maxRequestBodySize,
                    headerReadTimeout,
                    idleTimeout,
                    maxConnections,
                    shutdownTimeout,
                    maxConnectionsPerClient,
                    pathNormalization,
                    underscoresInHeaders,
                    newConnectionsPerClient,
                    minRequestBodyRate,
                    maxRequestsPerConnection);
        }
    }
}
