package dev.torii.upstream;

import dev.torii.proxyprotocol.ProxyProtocolVersion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A named set of endpoints with a load-balancing policy, connection-pool limits and timeouts. Immutable; build one
 * with {@link #builder(String)}.
 *
 * <p>Connection pools are kept per event loop and per endpoint address: {@code maxConnectionsPerEndpoint} and
 * {@code maxIdlePerEndpoint} apply to each event loop separately, the way nginx's {@code keepalive} applies per worker.
 * With an HTTP/2 {@link #protocol()} the connections are shared by the loop's exchanges, one stream each, and
 * {@code maxIdlePerEndpoint} does not apply: a connection without streams closes after {@code idleTimeout}.
 *
 * @param name the name routes refer to
 * @param endpoints one or more endpoints
 * @param loadBalancing how requests are spread
 * @param connectTimeout how long a TCP connect may take
 * @param responseTimeout how long to wait for the response head, and then between reads of the response body
 * @param maxConnectionsPerEndpoint open connections (busy or idle) per endpoint and event loop
 * @param maxIdlePerEndpoint idle keep-alive connections kept per endpoint and event loop
 * @param idleTimeout how long an idle keep-alive connection is kept
 * @param maxPendingAcquires requests that may wait for a busy pool per endpoint and event loop; more get
 *     {@code POOL_EXHAUSTED}
 * @param protocol how endpoints are spoken to; for HTTP/2 protocols {@code maxConnectionsPerEndpoint} counts the
 *     shared connections (each carrying up to the upstream's {@code SETTINGS_MAX_CONCURRENT_STREAMS} exchanges)
 * @param tls certificate verification of TLS protocols; {@link UpstreamTls#DEFAULT} for plain ones
 * @param outlierDetection passive health (ejection after consecutive failures), or null for none
 * @param healthCheck active health checks, or null for none
 * @param panic when no endpoint is healthy: true sends requests to all of them anyway (panic routing), false answers
 *     {@code NO_ENDPOINT} (503)
 * @param proxyProtocol the PROXY protocol header each new connection to an endpoint starts with, carrying the client
 *     address of the exchange that opened it, or {@code null} for none. With a header, a kept-alive connection is
 *     reused only for exchanges of the same client address (and listener address): the pools are kept per client.
 */
public record Upstream(
        String name,
        List<Endpoint> endpoints,
        LoadBalancing loadBalancing,
        Duration connectTimeout,
        Duration responseTimeout,
        int maxConnectionsPerEndpoint,
        int maxIdlePerEndpoint,
        Duration idleTimeout,
        int maxPendingAcquires,
        UpstreamProtocol protocol,
        UpstreamTls tls,
        OutlierDetection outlierDetection,
        HealthCheck healthCheck,
        boolean panic,
        ProxyProtocolVersion proxyProtocol) {

    public Upstream {
        Objects.requireNonNull(name, "name");
        endpoints = List.copyOf(endpoints);
        Objects.requireNonNull(loadBalancing, "loadBalancing");
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("upstream '" + name + "' endpoints: [] (expected: at least one)");
        }
        requirePositive(name, "connectTimeout", connectTimeout);
        requirePositive(name, "responseTimeout", responseTimeout);
        requirePositive(name, "idleTimeout", idleTimeout);
        if (maxConnectionsPerEndpoint < 1) {
            throw new IllegalArgumentException("upstream '" + name + "' maxConnectionsPerEndpoint: "
                    + maxConnectionsPerEndpoint + " (expected: > 0)");
        }
        if (maxIdlePerEndpoint < 0 || maxIdlePerEndpoint > maxConnectionsPerEndpoint) {
            throw new IllegalArgumentException("upstream '" + name + "' maxIdlePerEndpoint: " + maxIdlePerEndpoint
                    + " (expected: 0-" + maxConnectionsPerEndpoint + ", at most maxConnectionsPerEndpoint)");
        }
        if (maxPendingAcquires < 0) {
            throw new IllegalArgumentException(
                    "upstream '" + name + "' maxPendingAcquires: " + maxPendingAcquires + " (expected: >= 0)");
        }
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(tls, "tls");
        if (!protocol.tls() && !tls.equals(UpstreamTls.DEFAULT)) {
            throw new IllegalArgumentException("upstream '" + name + "' tls: set with protocol " + protocol.configName()
                    + " (expected: protocol https or h2 to use TLS settings)");
        }
    }

    private static void requirePositive(String upstream, String what, Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("upstream '" + upstream + "' " + what + ": " + d + " (expected: > 0)");
        }
    }

    /**
     * A builder with the defaults: HTTP/1.1, round-robin, connect 5 s, response 60 s, 1024 connections, 256 idle for
     * 60 s.
     */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Builds an {@link Upstream}; {@link #build()} validates the whole combination. Not thread-safe. */
    public static final class Builder {
        private final String name;
        private final List<Endpoint> endpoints = new ArrayList<>();
        private LoadBalancing loadBalancing = LoadBalancing.ROUND_ROBIN;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration responseTimeout = Duration.ofSeconds(60);
        private int maxConnectionsPerEndpoint = 1024;
        private int maxIdlePerEndpoint = 1024;
        private Duration idleTimeout = Duration.ofSeconds(60);
        private int maxPendingAcquires = 1024;
        private UpstreamProtocol protocol = UpstreamProtocol.HTTP_1_1;
        private UpstreamTls tls = UpstreamTls.DEFAULT;
        private OutlierDetection outlierDetection;
        private HealthCheck healthCheck;
        private boolean panic;
        private ProxyProtocolVersion proxyProtocol;

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        /** Adds an endpoint. */
        public Builder endpoint(Endpoint endpoint) {
            endpoints.add(Objects.requireNonNull(endpoint, "endpoint"));
            return this;
        }

        /** Adds an endpoint written {@code host:port}. */
        public Builder endpoint(String hostPort) {
            return endpoint(Endpoint.parse(hostPort));
        }

        public Builder loadBalancing(LoadBalancing loadBalancing) {
            this.loadBalancing = loadBalancing;
            return this;
        }

        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        public Builder responseTimeout(Duration responseTimeout) {
            this.responseTimeout = responseTimeout;
            return this;
        }

        public Builder maxConnectionsPerEndpoint(int max) {
            this.maxConnectionsPerEndpoint = max;
            return this;
        }

        public Builder maxIdlePerEndpoint(int max) {
            this.maxIdlePerEndpoint = max;
            return this;
        }

        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
            return this;
        }

        public Builder maxPendingAcquires(int max) {
            this.maxPendingAcquires = max;
            return this;
        }

        /** How endpoints are spoken to (default {@link UpstreamProtocol#HTTP_1_1}). */
        public Builder protocol(UpstreamProtocol protocol) {
            this.protocol = Objects.requireNonNull(protocol, "protocol");
            return this;
        }

        /** Certificate verification for a TLS protocol (default {@link UpstreamTls#DEFAULT}). */
        public Builder tls(UpstreamTls tls) {
            this.tls = Objects.requireNonNull(tls, "tls");
            return this;
        }

        /** Passive health: ejection of endpoints that fail in a row (default none). */
        public Builder outlierDetection(OutlierDetection outlierDetection) {
            this.outlierDetection = outlierDetection;
            return this;
        }

        /** Active health checks (default none). */
        public Builder healthCheck(HealthCheck healthCheck) {
            this.healthCheck = healthCheck;
            return this;
        }

        /** With no healthy endpoint, send to all of them (true) or answer {@code NO_ENDPOINT} (false, the default). */
        public Builder panic(boolean panic) {
            this.panic = panic;
            return this;
        }

        /**
         * The PROXY protocol header (v1 or v2) each new connection sends first, or {@code null} (the default) for none.
         */
        public Builder proxyProtocol(ProxyProtocolVersion proxyProtocol) {
            this.proxyProtocol = proxyProtocol;
            return this;
        }

        public Upstream build() {
            return new Upstream(
                    name,
                    endpoints,
                    loadBalancing,
                    connectTimeout,
                    responseTimeout,
                    maxConnectionsPerEndpoint,
                    Math.min(maxIdlePerEndpoint, maxConnectionsPerEndpoint),
                    idleTimeout,
                    maxPendingAcquires,
                    protocol,
                    tls,
                    outlierDetection,
                    healthCheck,
                    panic,
                    proxyProtocol);
        }
    }
}
