package dev.torii.metrics;

import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsCacheStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * Binds a {@link DnsCache}'s {@link DnsCacheStats}, read at scrape time: {@code torii_dns_cache_lookups_total{result}}
 * ({@code hit}, {@code stale}, {@code miss}), {@code torii_dns_cache_coalesced_total}, {@code _refreshes_total},
 * {@code _rejected_total}, {@code _upstream_queries_total}, {@code _upstream_errors_total},
 * {@code _upstream_timeouts_total} and the gauges {@code torii_dns_cache_in_flight}, {@code _queued},
 * {@code _entries}, and the transport's {@code torii_dns_cache_upstream_dropped_total} and {@code
 * torii_dns_cache_upstream_truncated_total}. The upstream latency histogram has fixed buckets of its own that Micrometer cannot take as they
 * are; the standalone server exports it in its Prometheus registry ({@code torii_dns_cache_upstream_latency_seconds}).
 * Thread-safe.
 */
public final class DnsCacheMetrics implements MeterBinder {
    private final Snapshot<DnsCacheStats> stats;
    private final DnsCache cache;

    /** Meters of {@code cache}. */
    public DnsCacheMetrics(DnsCache cache) {
        Objects.requireNonNull(cache, "cache");
        this.stats = new Snapshot<>(cache::stats);
        this.cache = cache;
    }

    @Override
    public void bindTo(MeterRegistry r) {
        String lookups = "DNS cache record lookups by result: hit (fresh), stale (served past its TTL), miss.";
        counter(r, "torii.dns.cache.lookups", lookups, "result", "hit", DnsCacheStats::hits);
        counter(r, "torii.dns.cache.lookups", lookups, "result", "stale", DnsCacheStats::staleServed);
        counter(r, "torii.dns.cache.lookups", lookups, "result", "miss", DnsCacheStats::misses);
        counter(
                r,
                "torii.dns.cache.coalesced",
                "Misses that joined an identical lookup in flight.",
                DnsCacheStats::coalesced);
        counter(
                r,
                "torii.dns.cache.refreshes",
                "Background refreshes of answers used late in their TTL.",
                DnsCacheStats::refreshes);
        counter(
                r,
                "torii.dns.cache.rejected",
                "Lookups refused with OVERLOADED (in-flight cap and queue full).",
                DnsCacheStats::rejected);
        counter(
                r,
                "torii.dns.cache.upstream.queries",
                "Queries sent to upstream DNS servers.",
                DnsCacheStats::upstreamQueries);
        counter(r, "torii.dns.cache.upstream.errors", "Upstream attempts that failed.", DnsCacheStats::upstreamErrors);
        counter(
                r,
                "torii.dns.cache.failures.cached",
                "Upstream failures remembered for the failure TTL (RFC 9520).",
                DnsCacheStats::failuresCached);
        counter(
                r,
                "torii.dns.cache.failure.hits",
                "Lookups failed at once from a remembered failure.",
                DnsCacheStats::failureHits);
        counter(
                r,
                "torii.dns.cache.upstream.timeouts",
                "Upstream attempts that missed their deadline.",
                DnsCacheStats::upstreamTimeouts);
        gauge(r, "torii.dns.cache.in.flight", "Upstream lookups in flight now.", DnsCacheStats::inFlight);
        gauge(r, "torii.dns.cache.queued", "Lookups waiting for an in-flight slot now.", DnsCacheStats::queued);
        gauge(r, "torii.dns.cache.entries", "Cached answers (approximate).", DnsCacheStats::entries);
        FunctionCounter.builder("torii.dns.cache.upstream.dropped", cache, DnsCache::upstreamAnswersDropped)
                .description("Answers from upstream DNS servers dropped: no query in flight matched their ID, question"
                        + " or source (spoofs, late answers).")
                .register(r);
        FunctionCounter.builder("torii.dns.cache.upstream.truncated", cache, DnsCache::upstreamAnswersTruncated)
                .description("UDP answers from upstream DNS servers that came truncated and were asked again over TCP.")
                .register(r);
    }

    private void counter(MeterRegistry r, String name, String help, ToDoubleFunction<DnsCacheStats> f) {
        Supplier<DnsCacheStats> reader = stats.reader();
        FunctionCounter.builder(name, reader, Snapshot.read(reader, f))
                .description(help)
                .register(r);
    }

    private void counter(
            MeterRegistry r, String name, String help, String tag, String value, ToDoubleFunction<DnsCacheStats> f) {
        Supplier<DnsCacheStats> reader = stats.reader();
        FunctionCounter.builder(name, reader, Snapshot.read(reader, f))
                .description(help)
                .tag(tag, value)
                .register(r);
    }

    private void gauge(MeterRegistry r, String name, String help, ToDoubleFunction<DnsCacheStats> f) {
        Supplier<DnsCacheStats> reader = stats.reader();
        Gauge.builder(name, reader, Snapshot.read(reader, f)).description(help).register(r);
    }
}
