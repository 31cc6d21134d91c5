package dev.torii.ratelimit;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.List;
import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * The counters of some {@link RateLimiter}s as Micrometer meters, tagged with the policy name only (never the key, so
 * a key flood cannot flood the registry either):
 *
 * <ul>
 *   <li>{@code torii.ratelimit.requests{policy, outcome}} (counter): outcome {@code allowed}, {@code limited},
 *       {@code shadow_limited} or {@code store_rejected};
 *   <li>{@code torii.ratelimit.evictions{policy}} (counter): keys dropped to stay within {@code maxKeys};
 *   <li>{@code torii.ratelimit.keys{policy}} (gauge): keys with a bucket in this process;
 *   <li>{@code torii.ratelimit.store.failures{policy}} (counter) and {@code torii.ratelimit.store.available{policy}}
 *       (gauge, 1 or 0): Redis-backed policies only.
 * </ul>
 *
 * <p>The meters read the limiters' counters when scraped; binding costs nothing per request. A configuration reload
 * binds the new policies with {@link #bindTo(MeterRegistry, RateLimitMetrics)}, which first removes the series of the
 * policies it dropped or changed. Thread-safe.
 */
public final class RateLimitMetrics implements MeterBinder {
    /** Every meter name {@link #bindTo(MeterRegistry)} registers, each tagged {@code policy}. */
    private static final List<String> NAMES = List.of(
            "torii.ratelimit.requests",
            "torii.ratelimit.evictions",
            "torii.ratelimit.keys",
            "torii.ratelimit.store.failures",
            "torii.ratelimit.store.available");

    private final List<RateLimiter> limiters;

    /** Meters for {@code limiters}. */
    public RateLimitMetrics(List<RateLimiter> limiters) {
        this.limiters = List.copyOf(Objects.requireNonNull(limiters, "limiters"));
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (RateLimiter l : limiters) {
            String policy = l.policy().name();
            counter(registry, "torii.ratelimit.requests", l, policy, "allowed", s -> s.stats()
                    .allowed());
            counter(registry, "torii.ratelimit.requests", l, policy, "limited", s -> s.stats()
                    .limited());
            counter(registry, "torii.ratelimit.requests", l, policy, "shadow_limited", s -> s.stats()
                    .shadowLimited());
            FunctionCounter.builder(
                            "torii.ratelimit.evictions", l, s -> s.stats().evicted())
                    .description("Keys whose buckets were dropped to stay within maxKeys")
                    .tag("policy", policy)
                    .register(registry);
            Gauge.builder("torii.ratelimit.keys", l, s -> s.stats().keys())
                    .description("Keys with a bucket in this process")
                    .tag("policy", policy)
                    .register(registry);
            if (l.policy().store() == RateLimitPolicy.Store.REDIS) {
                counter(registry, "torii.ratelimit.requests", l, policy, "store_rejected", s -> s.stats()
                        .storeRejected());
                FunctionCounter.builder("torii.ratelimit.store.failures", l, s -> s.stats()
                                .storeFailures())
                        .description("Redis calls that failed or timed out")
                        .tag("policy", policy)
                        .register(registry);
                Gauge.builder(
                                "torii.ratelimit.store.available",
                                l,
                                s -> s.stats().storeAvailable() ? 1 : 0)
                        .description("1 while the last Redis call succeeded")
                        .tag("policy", policy)
                        .register(registry);
            }
        }
    }

    /**
     * Binds these meters in place of {@code replaced}'s (the policies before a configuration reload): the series of a
     * policy whose limiter is not one of these (a removed policy, or a changed one, which got a new limiter with fresh
     * counters) are removed from {@code registry} first, so that a removed policy's series disappears and a changed
     * one's reads the new limiter (Micrometer would otherwise hand back the registered meter, still reading the old
     * limiter). The series of a kept limiter stay as they are. Call it on the thread that reloads.
     */
    public void bindTo(MeterRegistry registry, RateLimitMetrics replaced) {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(replaced, "replaced");
        var kept = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<RateLimiter, Boolean>());
        kept.addAll(limiters);
        for (RateLimiter old : replaced.limiters) {
            if (!kept.contains(old)) {
                String policy = old.policy().name();
                for (String name : NAMES) {
                    registry.find(name).tag("policy", policy).meters().forEach(registry::remove);
                }
            }
        }
        bindTo(registry);
    }

    private static void counter(
            MeterRegistry registry,
            String name,
            RateLimiter l,
            String policy,
            String outcome,
            ToDoubleFunction<RateLimiter> f) {
        FunctionCounter.builder(name, l, f)
                .description("Requests checked by a rate limit, by outcome")
                .tag("policy", policy)
                .tag("outcome", outcome)
                .register(registry);
    }
}
