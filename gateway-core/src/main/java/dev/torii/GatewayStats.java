package dev.torii;

/**
 * A snapshot of gateway-wide counters. Immutable.
 *
 * @param openConnections client connections open now
 * @param activeExchanges exchanges in progress now
 * @param totalExchanges exchanges finished since start
 * @param rejectedConnections connections closed at accept because {@link Limits#maxConnections()} was reached
 * @param upstreamConnectionsOpened upstream connections opened since start, counted once usable (connected, TLS done,
 *     for HTTP/2 the peer's SETTINGS): a low figure means pools reuse well
 * @param upstreamConnectsFailed upstream connects that failed (refused, timed out, TLS or HTTP/2 set-up) since start
 * @param guardedConnections connections closed at accept by a {@link ConnectionGuard} (IP lists, per-client limits)
 * @param malformedHttp2Requests HTTP/2 requests reset as malformed (RFC 9113 section 8.1.1) since start
 * @param http2FloodsStopped HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM for a flood of any kind
 * @param tcpConnections connections of {@link dev.torii.tcp.TcpListener TCP listeners} open now (also counted in
 *     {@code openConnections})
 * @param tcpConnectionsTotal connections TCP listeners accepted since start
 * @param tcpConnectionsRejected TCP connections a {@link Phase#CONNECT} hook rejected since start
 * @param http2FloodsByKind {@code http2FloodsStopped} by {@link Http2Limits.Flood kind} (every kind present, 0 when
 *     none), unmodifiable
 * @param maxRequestsReached client connections that reached their request limit since start
 *     ({@link Limits#maxRequestsPerConnection()}: HTTP/1.1 closed after the last response, HTTP/2 drained with GOAWAY)
 */
public record GatewayStats(
        int openConnections,
        int activeExchanges,
        long totalExchanges,
        long rejectedConnections,
        long upstreamConnectionsOpened,
        long upstreamConnectsFailed,
        long guardedConnections,
        long malformedHttp2Requests,
        long http2FloodsStopped,
        int tcpConnections,
        long tcpConnectionsTotal,
        long tcpConnectionsRejected,
        java.util.Map<Http2Limits.Flood, Long> http2FloodsByKind,
        long maxRequestsReached) {
    public GatewayStats {
        http2FloodsByKind = java.util.Collections.unmodifiableMap(new java.util.EnumMap<>(http2FloodsByKind));
    }
}
