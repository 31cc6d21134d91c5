package dev.torii.server.internal;

import dev.torii.Gateway;
import dev.torii.GatewayStats;
import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsCacheStats;
import dev.torii.dns.DnsServer;
import dev.torii.dns.DnsServerStats;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * The standalone server's metrics in Prometheus text format: the gateway's {@link GatewayStats}, each DNS listener's
 * {@link DnsServerStats} and the {@link DnsCacheStats}, read from their snapshots at each scrape (nothing is counted
 * twice and the hot paths keep their own counters). Metric names start with {@code torii_}.
 *
 * <p>Thread-safe: scrapes are serialised, and each takes one snapshot of every source.
 */
public final class PrometheusMetrics {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final Gateway gateway;
    private final List<DnsServer> dnsServers;
    private final DnsCache dnsCache;

    // The snapshots of the scrape in progress.
    private GatewayStats gatewayNow;
    private List<DnsServerStats> serversNow = List.of();
    private DnsCacheStats cacheNow;

    /** Metrics of whichever of these exist (each may be null or empty). */
    public PrometheusMetrics(Gateway gateway, List<DnsServer> dnsServers, DnsCache dnsCache) {
        this.gateway = gateway;
        this.dnsServers = List.copyOf(dnsServers);
        this.dnsCache = dnsCache;
        if (gateway != null) {
            registerGateway();
        }
        if (!this.dnsServers.isEmpty()) {
            registerDnsServers();
        }
        if (dnsCache != null) {
            registerDnsCache();
        }
    }

    /** The content type of {@link #scrape()}'s text. */
    public String contentType() {
        return writer.getContentType();
    }

    /** Every metric, in the Prometheus text format. */
    public synchronized byte[] scrape() {
        gatewayNow = gateway == null ? null : gateway.stats();
        List<DnsServerStats> servers = new ArrayList<>();
        dnsServers.forEach(s -> servers.add(s.stats()));
        serversNow = servers;
        cacheNow = dnsCache == null ? null : dnsCache.stats();
        ByteArrayOutputStream out = new ByteArrayOutputStream(8_192);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private void registerGateway() {
        gauge("torii_gateway_open_connections", "Client connections open now.", s -> s.openConnections());
        gauge("torii_gateway_active_exchanges", "Exchanges in progress now.", s -> s.activeExchanges());
        counter("torii_gateway_exchanges", "Exchanges finished since start.", s -> s.totalExchanges());
        counter(
                "torii_gateway_rejected_connections",
                "Connections closed at accept because limits.maxConnections was reached.",
                s -> s.rejectedConnections());
        counter(
                "torii_gateway_upstream_connections_opened",
                "Upstream connections opened since start.",
                s -> s.upstreamConnectionsOpened());
    }

    private void gauge(String name, String help, ToDoubleFunction<GatewayStats> value) {
        GaugeWithCallback.builder()
                .name(name)
                .help(help)
                .callback(cb -> cb.call(value.applyAsDouble(gatewayNow)))
                .register(registry);
    }

    private void counter(String name, String help, ToDoubleFunction<GatewayStats> value) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .callback(cb -> cb.call(value.applyAsDouble(gatewayNow)))
                .register(registry);
    }

    private void registerDnsServers() {
        CounterWithCallback.builder()
                .name("torii_dns_server_queries")
                .help("DNS queries received, by listener and transport.")
                .labelNames("listener", "transport")
                .callback(cb -> eachServer((name, s) -> {
                    cb.call(s.udpQueries(), name, "udp");
                    cb.call(s.tcpQueries(), name, "tcp");
                }))
                .register(registry);
        CounterWithCallback.builder()
                .name("torii_dns_server_responses")
                .help("DNS responses sent, by listener and rcode.")
                .labelNames("listener", "rcode")
                .callback(cb -> eachServer((name, s) -> s.responses().forEach((rcode, n) -> cb.call(n, name, rcode))))
                .register(registry);
        serverCounter(
                "torii_dns_server_truncated",
                "UDP responses sent truncated (TC=1) because the answer did not fit the client's UDP size.",
                DnsServerStats::truncated);
        serverCounter(
                "torii_dns_server_rate_limited",
                "Queries over their client's rate limit (dropped or refused).",
                DnsServerStats::rateLimited);
        serverCounter(
                "torii_dns_server_malformed",
                "Queries that could not be parsed (FORMERR, or dropped without a header).",
                DnsServerStats::malformed);
        serverCounter(
                "torii_dns_server_dropped",
                "Queries dropped for another reason: responses, too many pending, socket full.",
                DnsServerStats::dropped);
        serverCounter(
                "torii_dns_server_tcp_rejected",
                "TCP connections closed at accept because maxTcpConnections were open.",
                DnsServerStats::tcpRejected);
        GaugeWithCallback.builder()
                .name("torii_dns_server_tcp_connections")
                .help("TCP connections open now.")
                .labelNames("listener")
                .callback(cb -> eachServer((name, s) -> cb.call(s.tcpConnections(), name)))
                .register(registry);
    }

    private void serverCounter(String name, String help, ToDoubleFunction<DnsServerStats> value) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("listener")
                .callback(cb -> eachServer((listener, s) -> cb.call(value.applyAsDouble(s), listener)))
                .register(registry);
    }

    private void eachServer(java.util.function.BiConsumer<String, DnsServerStats> each) {
        for (int i = 0; i < dnsServers.size() && i < serversNow.size(); i++) {
            each.accept(dnsServers.get(i).name(), serversNow.get(i));
        }
    }

    private void registerDnsCache() {
        CounterWithCallback.builder()
                .name("torii_dns_cache_lookups")
                .help("DNS cache record lookups by result: hit (fresh), stale (served past its TTL), miss.")
                .labelNames("result")
                .callback(cb -> {
                    cb.call(cacheNow.hits(), "hit");
                    cb.call(cacheNow.staleServed(), "stale");
                    cb.call(cacheNow.misses(), "miss");
                })
                .register(registry);
        cacheCounter(
                "torii_dns_cache_coalesced", "Misses that joined an identical lookup in flight.", s -> s.coalesced());
        cacheCounter(
                "torii_dns_cache_refreshes",
                "Background refreshes of answers used late in their TTL.",
                s -> s.refreshes());
        cacheCounter(
                "torii_dns_cache_rejected",
                "Lookups refused with OVERLOADED (in-flight cap and queue full).",
                s -> s.rejected());
        cacheCounter(
                "torii_dns_cache_failures_cached",
                "Upstream failures remembered for failureTtl (RFC 9520).",
                s -> s.failuresCached());
        cacheCounter(
                "torii_dns_cache_failure_hits",
                "Lookups failed at once from a remembered failure.",
                s -> s.failureHits());
        cacheCounter(
                "torii_dns_cache_upstream_queries", "Queries sent to upstream DNS servers.", s -> s.upstreamQueries());
        cacheCounter("torii_dns_cache_upstream_errors", "Upstream attempts that failed.", s -> s.upstreamErrors());
        cacheCounter(
                "torii_dns_cache_upstream_timeouts",
                "Upstream attempts that missed their deadline.",
                s -> s.upstreamTimeouts());
        cacheGauge("torii_dns_cache_in_flight", "Upstream lookups in flight now.", s -> s.inFlight());
        cacheGauge("torii_dns_cache_queued", "Lookups waiting for an in-flight slot now.", s -> s.queued());
        cacheGauge("torii_dns_cache_entries", "Cached answers (approximate).", s -> s.entries());
        registry.register(new Collector() {
            @Override
            public MetricSnapshot collect() {
                DnsCacheStats.Histogram h = cacheNow.upstreamLatency();
                int n = h.counts().size();
                double[] bounds = new double[n];
                long[] counts = new long[n];
                for (int i = 0; i < n; i++) {
                    bounds[i] = i < h.upperBounds().size()
                            ? h.upperBounds().get(i).toNanos() / 1e9
                            : Double.POSITIVE_INFINITY;
                    counts[i] = h.counts().get(i);
                }
                return HistogramSnapshot.builder()
                        .name("torii_dns_cache_upstream_latency_seconds")
                        .help("Round trips of answered upstream attempts.")
                        .dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder()
                                .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, counts))
                                .build())
                        .build();
            }

            @Override
            public String getPrometheusName() {
                return "torii_dns_cache_upstream_latency_seconds";
            }
        });
    }

    private void cacheCounter(String name, String help, Function<DnsCacheStats, Number> value) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .callback(cb -> cb.call(value.apply(cacheNow).doubleValue()))
                .register(registry);
    }

    private void cacheGauge(String name, String help, Function<DnsCacheStats, Number> value) {
        GaugeWithCallback.builder()
                .name(name)
                .help(help)
                .callback(cb -> cb.call(value.apply(cacheNow).doubleValue()))
                .register(registry);
    }
}
