/**
 * Micrometer meters for the gateway: the metrics API of Torii.
 *
 * <p>Why Micrometer: an embedding application already owns a {@link io.micrometer.core.instrument.MeterRegistry}
 * (Spring Boot, Armeria, Quarkus and Vert.x all hand one out) and exports it to whatever it uses (Prometheus, OTLP,
 * Datadog, JMX...). Handing that registry to {@link dev.torii.Gateway.Builder#meterRegistry} puts Torii's series next
 * to the application's own with no second exporter. The Prometheus client would force Prometheus on every embedder
 * and a second scrape endpoint; the standalone server gets Prometheus anyway, through Micrometer's Prometheus
 * registry.
 *
 * <p>Two kinds of meters live here. {@link dev.torii.metrics.RequestMetrics} is a {@link dev.torii.Phase#LOG} hook:
 * the one {@link dev.torii.ExchangeLog} record of each exchange feeds it (as it feeds the access log), so the two never
 * disagree. The binders ({@link dev.torii.metrics.GatewayStatsMetrics}, {@link dev.torii.metrics.DnsCacheMetrics},
 * {@link dev.torii.metrics.DnsServerMetrics}) read the snapshots components already keep, at scrape time: nothing is
 * counted twice on a hot path.
 *
 * <p>Cardinality is bounded: every label value comes from the configuration (route, upstream and listener names) or
 * from a closed set (status class, protocol, {@link dev.torii.ProxyError} kind); never a raw path or a client address.
 */
package dev.torii.metrics;
