package dev.torii.metrics;

import dev.torii.upstream.EndpointStatus;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The health of each upstream endpoint as a gauge: {@code torii_upstream_endpoint_available{upstream, endpoint}} is 1
 * while the load balancer may pick the endpoint, 0 while the active checks call it unhealthy or outlier detection has
 * ejected it, and NaN once a reload removed it. Labels come from the configuration only (upstream names and endpoint
 * {@code host:port} as written), so the series are bounded by it. {@link #refresh()} adds the series of endpoints a
 * routing-table swap brought in.
 *
 * <p>Thread-safe: the gauges read {@code health} at scrape time, from the scraping thread.
 */
public final class UpstreamHealthMetrics implements MeterBinder {
    private final Supplier<List<EndpointStatus>> health;
    private final Set<String> registered = ConcurrentHashMap.newKeySet();
    private volatile MeterRegistry registry;

    /** @param health the health of every endpoint now ({@link dev.torii.Gateway#upstreamHealth()}) */
    public UpstreamHealthMetrics(Supplier<List<EndpointStatus>> health) {
        this.health = Objects.requireNonNull(health, "health");
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        this.registry = registry;
        refresh();
    }

    /** Registers the series of endpoints that have none yet (after a routing-table swap). */
    public void refresh() {
        MeterRegistry r = registry;
        if (r == null) {
            return;
        }
        for (EndpointStatus s : health.get()) {
            String upstream = s.upstream();
            String endpoint = s.endpoint().authority();
            if (registered.add(upstream + " " + endpoint)) {
                Gauge.builder("torii.upstream.endpoint.available", () -> available(upstream, endpoint))
                        .description("1 while the load balancer may pick the endpoint, 0 while it is unhealthy or"
                                + " ejected.")
                        .tag("upstream", upstream)
                        .tag("endpoint", endpoint)
                        .register(r);
            }
        }
    }

    private double available(String upstream, String endpoint) {
        for (EndpointStatus s : health.get()) {
            if (s.upstream().equals(upstream) && s.endpoint().authority().equals(endpoint)) {
                return s.available() ? 1 : 0;
            }
        }
        return Double.NaN;
    }
}
