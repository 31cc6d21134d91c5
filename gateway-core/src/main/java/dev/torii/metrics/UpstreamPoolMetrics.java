package dev.torii.metrics;

import dev.torii.upstream.ConnectFailure;
import dev.torii.upstream.UpstreamPoolStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;

/**
 * The upstream connection pools and connects, per upstream, in Prometheus names:
 * {@code torii_upstream_connections{upstream, state}} ({@code in_use}: carrying exchanges or connecting; {@code idle})
 * and {@code torii_upstream_connects_total{upstream, result, reason}} ({@code result="ok", reason="none"}, or
 * {@code result="failed"} with {@code reason} one of {@code refused}, {@code timeout}, {@code tls}, {@code dns},
 * {@code reset}, {@code other}). The {@code upstream} label takes configured upstream names only: the series are
 * registered, all at 0, for the upstreams of the routing table, and {@link #refresh()} adds those a table swap brought
 * in.
 *
 * <p>{@link dev.torii.Gateway.Builder#meterRegistry} binds it. Thread-safe: the meters read one
 * {@link dev.torii.Gateway#upstreamPools()} snapshot per scrape, on the scraping thread; nothing locks an event loop.
 */
public final class UpstreamPoolMetrics implements MeterBinder {
    private final Supplier<? extends Collection<String>> upstreams;
    private final Snapshot<Map<String, UpstreamPoolStats>> stats;
    private final Set<String> registered = ConcurrentHashMap.newKeySet();
    private volatile MeterRegistry registry;

    /**
     * @param upstreams the names of the configured upstreams now (from the routing table)
     * @param pools the pool stats now ({@link dev.torii.Gateway#upstreamPools()})
     */
    public UpstreamPoolMetrics(
            Supplier<? extends Collection<String>> upstreams, Supplier<List<UpstreamPoolStats>> pools) {
        this.upstreams = Objects.requireNonNull(upstreams, "upstreams");
        Objects.requireNonNull(pools, "pools");
        this.stats = new Snapshot<>(
                () -> pools.get().stream().collect(Collectors.toMap(UpstreamPoolStats::upstream, s -> s)));
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        this.registry = registry;
        refresh();
    }

    /** Registers the series of upstreams that have none yet (after a routing-table swap). */
    public void refresh() {
        MeterRegistry r = registry;
        if (r == null) {
            return;
        }
        for (String upstream : upstreams.get()) {
            if (!registered.add(upstream)) {
                continue;
            }
            gauge(r, upstream, "in_use", UpstreamPoolStats::inUse);
            gauge(r, upstream, "idle", UpstreamPoolStats::idle);
            counter(r, upstream, "ok", "none", UpstreamPoolStats::connectsOk);
            for (ConnectFailure reason : ConnectFailure.values()) {
                counter(r, upstream, "failed", reason.tag(), s -> s.connectsFailed(reason));
            }
        }
    }

    private void gauge(MeterRegistry r, String upstream, String state, ToDoubleFunction<UpstreamPoolStats> f) {
        Supplier<Map<String, UpstreamPoolStats>> reader = stats.reader();
        Gauge.builder("torii.upstream.connections", reader, Snapshot.read(reader, m -> of(m, upstream, f)))
                .description("Upstream connections open by state: in_use (carrying exchanges or connecting), idle.")
                .tag("upstream", upstream)
                .tag("state", state)
                .register(r);
    }

    private void counter(
            MeterRegistry r, String upstream, String result, String reason, ToDoubleFunction<UpstreamPoolStats> f) {
        Supplier<Map<String, UpstreamPoolStats>> reader = stats.reader();
        FunctionCounter.builder("torii.upstream.connects", reader, Snapshot.read(reader, m -> of(m, upstream, f)))
                .description("Upstream connects by result (ok, failed) and reason of failure (refused, timeout, tls,"
                        + " dns, reset, other).")
                .tag("upstream", upstream)
                .tag("result", result)
                .tag("reason", reason)
                .register(r);
    }

    private static double of(Map<String, UpstreamPoolStats> m, String upstream, ToDoubleFunction<UpstreamPoolStats> f) {
        UpstreamPoolStats s = m.get(upstream);
        return s == null ? 0 : f.applyAsDouble(s);
    }
}
