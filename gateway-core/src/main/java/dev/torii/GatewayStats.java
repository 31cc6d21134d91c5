package dev.torii;

/**
 * A snapshot of gateway-wide counters. Immutable.
 *
 * @param openConnections client connections open now
 * @param activeExchanges exchanges in progress now
 * @param totalExchanges exchanges finished since start
 * @param rejectedConnections connections closed at accept because {@link Limits#maxConnections()} was reached
 * @param upstreamConnectionsOpened upstream connections opened since start (a low figure means pools reuse well)
 */
public record GatewayStats(
        int openConnections,
        int activeExchanges,
        long totalExchanges,
        long rejectedConnections,
        long upstreamConnectionsOpened) {}
