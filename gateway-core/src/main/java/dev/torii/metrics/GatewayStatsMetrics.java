package dev.torii.metrics;

import dev.torii.GatewayStats;
import dev.torii.Http2Limits;
import dev.torii.maintenance.MaintenanceMode;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * Binds a gateway's {@link GatewayStats} (read at scrape time) and its maintenance state. Series, in Prometheus
 * names: {@code torii_gateway_open_connections}, {@code torii_gateway_active_exchanges},
 * {@code torii_gateway_exchanges_total}, {@code torii_gateway_rejected_connections_total},
 * {@code torii_gateway_upstream_connections_opened_total}, {@code torii_gateway_http2_malformed_requests_total},
 * {@code torii_gateway_http2_floods_stopped_total}, {@code torii_gateway_http2_floods_total{kind}} ({@code
 * rapid_reset}, {@code continuation}, {@code empty_data}, {@code settings}, {@code ping}), {@code torii_tcp_connections}, {@code torii_tcp_connections_finished_total},
 * {@code torii_tcp_connections_rejected_total} and {@code torii_maintenance} (1 while on).
 *
 * <p>{@link dev.torii.Gateway.Builder#meterRegistry} binds it; an application that builds its gateway otherwise can
 * bind it with {@code new GatewayStatsMetrics(gateway::stats, gateway.maintenance())}. Thread-safe.
 */
public final class GatewayStatsMetrics implements MeterBinder {
    private final Snapshot<GatewayStats> stats;
    private final MaintenanceMode maintenance;

    /**
     * @param stats where the counters come from (called at scrape time, from the scraping thread)
     * @param maintenance the maintenance switch, or {@code null} for none
     */
    public GatewayStatsMetrics(Supplier<GatewayStats> stats, MaintenanceMode maintenance) {
        this.stats = new Snapshot<>(Objects.requireNonNull(stats, "stats"));
        this.maintenance = maintenance;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        gauge(
                registry,
                "torii.gateway.open.connections",
                "Client connections open now.",
                GatewayStats::openConnections);
        gauge(registry, "torii.gateway.active.exchanges", "Exchanges in progress now.", GatewayStats::activeExchanges);
        counter(registry, "torii.gateway.exchanges", "Exchanges finished since start.", GatewayStats::totalExchanges);
        counter(
                registry,
                "torii.gateway.rejected.connections",
                "Connections closed at accept because limits.maxConnections was reached.",
                GatewayStats::rejectedConnections);
        counter(
                registry,
                "torii.gateway.upstream.connections.opened",
                "Upstream connections opened since start (counted once usable).",
                GatewayStats::upstreamConnectionsOpened);
        counter(
                registry,
                "torii.gateway.upstream.connects.failed",
                "Upstream connects that failed (refused, timed out, TLS or HTTP/2 set-up) since start.",
                GatewayStats::upstreamConnectsFailed);
        counter(
                registry,
                "torii.gateway.guarded.connections",
                "Connections closed at accept by a connection guard (IP lists, per-client limits).",
                GatewayStats::guardedConnections);
        counter(
                registry,
                "torii.gateway.http2.malformed.requests",
                "HTTP/2 requests reset as malformed (RFC 9113 section 8.1.1).",
                GatewayStats::malformedHttp2Requests);
        counter(
                registry,
                "torii.gateway.http2.floods.stopped",
                "HTTP/2 connections closed with ENHANCE_YOUR_CALM for a flood of any kind.",
                GatewayStats::http2FloodsStopped);
        for (Http2Limits.Flood kind : Http2Limits.Flood.values()) {
            Supplier<GatewayStats> reader = stats.reader();
            FunctionCounter.builder(
                            "torii.gateway.http2.floods", reader, Snapshot.read(reader, s -> s.http2FloodsByKind()
                                    .get(kind)))
                    .description("HTTP/2 floods stopped with GOAWAY ENHANCE_YOUR_CALM, by kind (rapid_reset, "
                            + "continuation, empty_data, settings, ping).")
                    .tag("kind", kind.tag())
                    .register(registry);
        }
        gauge(
                registry,
                "torii.tcp.connections",
                "Connections of TCP listeners open now.",
                GatewayStats::tcpConnections);
        counter(
                registry,
                "torii.tcp.connections.accepted",
                "Connections TCP listeners accepted since start.",
                GatewayStats::tcpConnectionsTotal);
        counter(
                registry,
                "torii.tcp.connections.rejected",
                "TCP connections a CONNECT hook rejected.",
                GatewayStats::tcpConnectionsRejected);
        counter(
                registry,
                "torii.connections.max.requests",
                "Client connections closed (HTTP/1.1) or drained (HTTP/2) at their request limit per connection.",
                GatewayStats::maxRequestsReached);
        if (maintenance != null) {
            Gauge.builder("torii.maintenance", maintenance, m -> m.enabled() ? 1 : 0)
                    .description("1 while maintenance mode is on (switch or flag file), 0 otherwise.")
                    .register(registry);
        }
    }

    private void gauge(MeterRegistry r, String name, String help, ToDoubleFunction<GatewayStats> f) {
        Supplier<GatewayStats> reader = stats.reader();
        Gauge.builder(name, reader, Snapshot.read(reader, f)).description(help).register(r);
    }

    private void counter(MeterRegistry r, String name, String help, ToDoubleFunction<GatewayStats> f) {
        Supplier<GatewayStats> reader = stats.reader();
        FunctionCounter.builder(name, reader, Snapshot.read(reader, f))
                .description(help)
                .register(r);
    }
}
