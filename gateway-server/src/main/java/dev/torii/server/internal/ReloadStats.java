package dev.torii.server.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * Counts configuration reloads ({@code torii.config.reloads}, tagged {@code result=ok|failed}) and keeps the last
 * result ({@code torii.config.reload.last.success}, 1 or 0) and its time ({@code torii.config.reload.last.time},
 * seconds since the epoch, 0 before the first), for
 * {@code /metrics} and the admin API's {@code /reload} view. Thread-safe.
 */
public final class ReloadStats {
    /**
     * The top-level sections a reload applies; every other one needs a restart. Of {@code listeners}, all of them:
     * http, https, tcp and dns (added, removed, changed). Of {@code plugins}, all ({@code watch} starts or stops the
     * file watcher). Of the rate limits, the policies ({@code rateLimits}) and the global list ({@code rateLimit}); a
     * changed {@code redis} connection is made and checked before the swap. Of {@code limits}, all ({@code http2} for the connections made from then
     * on; {@code maxConnectionsPerClient} and {@code newConnectionsPerClient} for the accepts from then on, the counts
     * of open connections kept). {@code forwarding} for the requests forwarded from then on. Of {@code maintenance},
     * all, its flag {@code file} and {@code redis} key included. Of {@code dns}, all but {@code maxInFlight} and
     * {@code queueLimit} (and removing the section). {@code admin}: a new address or token starts a new admin server.
     * {@code ioThreads} stays restart-only: the event-loop count is fixed at start-up (as Envoy's {@code --concurrency}).
     */
    public static final List<String> APPLIED_SECTIONS = List.of(
            "routes",
            "upstreams",
            "listeners",
            "plugins",
            "rateLimits",
            "rateLimit",
            "access",
            "accessLog",
            "tracing",
            "limits",
            "forwarding",
            "maintenance",
            "admin",
            "redis",
            "dns");

    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicReference<Instant> lastTime = new AtomicReference<>();
    private volatile String lastResult = "none";
    private final Counter okCounter;
    private final Counter failedCounter;

    /** Stats whose meters go to {@code registry}. */
    public ReloadStats(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        okCounter = Counter.builder("torii.config.reloads")
                .description("Configuration reloads, by result")
                .tag("result", "ok")
                .register(registry);
        failedCounter = Counter.builder("torii.config.reloads")
                .description("Configuration reloads, by result")
                .tag("result", "failed")
                .register(registry);
        Gauge.builder("torii.config.reload.last.time", this, s -> {
                    Instant t = s.lastTime.get();
                    return t == null ? 0 : t.toEpochMilli() / 1000.0;
                })
                .description("When the last configuration reload finished (seconds since the epoch; 0: none yet)")
                .baseUnit("seconds")
                .register(registry);
        Gauge.builder("torii.config.reload.last.success", this, s -> "ok".equals(s.lastResult) ? 1 : 0)
                .description("1 when the last configuration reload was applied, 0 when refused or before the first")
                .register(registry);
    }

    /** Records one reload that finished at {@code time}. */
    public void record(boolean applied, Instant time) {
        (applied ? ok : failed).incrementAndGet();
        (applied ? okCounter : failedCounter).increment();
        lastTime.set(time);
        lastResult = applied ? "ok" : "failed";
    }

    /** {@code {ok, failed, lastResult, lastTime}} for the admin API's JSON ({@code lastTime} null before the first). */
    public Map<String, Object> asMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", ok.get());
        m.put("failed", failed.get());
        m.put("lastResult", lastResult);
        Instant t = lastTime.get();
        m.put("lastTime", t == null ? null : t.toString());
        return m;
    }

    /**
     * The top-level sections of YAML {@code after} whose value differs from {@code before}, other than the ones a
     * reload applies, in file order. Both texts were validated already; a text that does not parse as a mapping
     * counts as empty.
     */
    public static List<String> unappliedChanges(String before, String after) {
        Map<?, ?> b = topLevel(before);
        Map<?, ?> a = topLevel(after);
        java.util.LinkedHashSet<Object> keys = new java.util.LinkedHashSet<>(a.keySet());
        keys.addAll(b.keySet());
        return keys.stream()
                .filter(k -> !APPLIED_SECTIONS.contains(String.valueOf(k)))
                .filter(k -> !Objects.equals(a.get(k), b.get(k)))
                .map(String::valueOf)
                .toList();
    }

    private static Map<?, ?> topLevel(String yaml) {
        try {
            Object doc = new Load(LoadSettings.builder().build()).loadFromString(yaml);
            return doc instanceof Map<?, ?> m ? m : Map.of();
        } catch (RuntimeException e) {
            return Map.of();
        }
    }
}
