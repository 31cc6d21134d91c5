package dev.torii;

/**
 * A snapshot of gateway-wide counters. Immutable.
 *
 * @param openConnections client connections open now
 * @param activeExchanges exchanges in progress now
 * @param totalExchanges exchanges finished since start
 * @param rejectedConnections connections closed at accept because {@link Limits#maxConnections()} was reached
 * @param upstreamConnectionsOpened upstream connections opened since start (a low figure means pools reuse well)
 * @param tcpConnections connections of {@link dev.torii.tcp.TcpListener TCP listeners} open now (also counted in
 *     {@code openConnections})
 * @param tcpConnectionsTotal connections TCP listeners accepted since start
 * @param tcpConnectionsRejected TCP connections a {@link Phase#CONNECT} hook rejected since start
 */
public record GatewayStats(
        int openConnections,
        int activeExchanges,
        long totalExchanges,
        long rejectedConnections,
        long upstreamConnectionsOpened,
        int tcpConnections,
        long tcpConnectionsTotal,
        long tcpConnectionsRejected) {}
