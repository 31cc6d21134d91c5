package dev.torii.server.internal;

import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsCacheStats;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricFamilyDescriptor;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * The standalone server's metrics: one Micrometer {@link PrometheusMeterRegistry} that the gateway
 * ({@link dev.torii.Gateway.Builder#meterRegistry}), every {@link MeterBinder} handed to {@link #bind} (DNS, scripts,
 * rate limits, access log...) and the JVM binders (memory, GC, threads, class loading, CPU, uptime) publish to, served
 * by the admin API's {@code GET /metrics} in the Prometheus text format. Metric names start with {@code torii_}
 * (Micrometer's {@code torii.gateway.exchanges} counter is {@code torii_gateway_exchanges_total}), JVM ones with
 * {@code jvm_}, {@code process_} and {@code system_}.
 *
 * <p>Thread-safe: binders register once, scrapes may run concurrently.
 */
public final class ServerMetrics implements AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    /** A registry with the JVM binders bound. */
    public ServerMetrics() {
        bind(List.of(
                new JvmMemoryMetrics(),
                gc,
                new JvmThreadMetrics(),
                new ClassLoaderMetrics(),
                new ProcessorMetrics(),
                new UptimeMetrics()));
    }

    /** The registry to hand to the gateway's builder and to binders. */
    public MeterRegistry registry() {
        return registry;
    }

    /** Binds each of {@code binders}: adding a component's metrics to {@code /metrics} is one entry in the list. */
    public ServerMetrics bind(List<? extends MeterBinder> binders) {
        binders.forEach(b -> b.bindTo(registry));
        return this;
    }

    private static final String DNS_LATENCY = "torii_dns_cache_upstream_latency_seconds";
    private static final String DNS_LATENCY_HELP = "Round trips of answered upstream attempts.";

    /**
     * Exports {@code cache}'s upstream latency histogram as {@code torii_dns_cache_upstream_latency_seconds}, with the
     * cache's own fixed buckets (100 µs to 5 s; no {@code _sum}), straight into the Prometheus registry: Micrometer
     * cannot take a histogram whose buckets were counted elsewhere.
     */
    public ServerMetrics dnsCacheHistogram(DnsCache cache) {
        Objects.requireNonNull(cache, "cache");
        registry.getPrometheusRegistry().register(new Collector() {
            @Override
            public MetricSnapshot collect() {
                DnsCacheStats.Histogram h = cache.stats().upstreamLatency();
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
                        .name(DNS_LATENCY)
                        .help(DNS_LATENCY_HELP)
                        .dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder()
                                .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, counts))
                                .build())
                        .build();
            }

            @Override
            public MetricFamilyDescriptor getMetricFamilyDescriptor() {
                // Lets the registry refuse a clashing name when this is registered, not at the first scrape.
                return MetricFamilyDescriptor.histogram(DNS_LATENCY)
                        .help(DNS_LATENCY_HELP)
                        .build();
            }
        });
        return this;
    }

    /** The content type of {@link #scrape()}'s text. */
    public String contentType() {
        return PrometheusTextFormatWriter.CONTENT_TYPE;
    }

    /** Every metric, in the Prometheus text format. */
    public byte[] scrape() {
        return registry.scrape().getBytes(StandardCharsets.UTF_8);
    }

    /** Unregisters the GC listener and closes the registry. */
    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
