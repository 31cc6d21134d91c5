package dev.torii;

/**
 * A snapshot of gateway-wide counters. Immutable.
 *
 * @param openConnections client connections open now
 * @param activeExchanges exchanges in progress now
 * @param totalExchanges exchanges finished since start
 * @param rejectedConnections connections closed at accept because {@link Limits#maxConnections()} was reached
 * @param upstreamConnectionsOpened upstream connections opened since start (a low figure means pools reuse well)
 * @param malformedHttp2Requests HTTP/2 requests reset as malformed (RFC 9113 section 8.1.1) since start
 * @param http2FloodsStopped HTTP/2 connections closed with GOAWAY ENHANCE_YOUR_CALM for a SETTINGS/PING flood
 */
public record GatewayStats(
        int openConnections,
        int activeExchanges,
        long totalExchanges,
        long rejectedConnections,
        long upstreamConnectionsOpened,
        long malformedHttp2Requests,
        long http2FloodsStopped) {}
