package dev.torii.access;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * The meters of the access lists in use, which a configuration reload replaces: each meter reads the
 * {@link AccessControl} given last to {@link #use}, never the one the process started with. Series, in Prometheus
 * form: {@code torii_access_denied_total{kind="request|connection"}}, {@code torii_access_list_reloads_total},
 * {@code torii_access_list_reload_failures_total} and {@code torii_access_list_entries{rule="allow|deny"}} (blocks in
 * the lists in use, files included).
 *
 * <p>The counters add what the replaced lists counted, so they never go down across reloads. The series appear once
 * lists exist (at start-up or from the first reload that adds an {@code access} section) and stay afterwards; the
 * entries gauges read 0 while no list is configured.
 *
 * <p>Thread-safe: meters are read on scrape threads, {@link #use} runs on the reloading thread.
 */
public final class AccessMetrics implements MeterBinder {
    private volatile AccessControl current;
    /** What the replaced lists counted; replaced as a whole under this object's lock. */
    private volatile AccessStats before = new AccessStats(0, 0, 0, 0);

    private MeterRegistry registry;
    private boolean bound;

    /** Meters of {@code access} (null: no lists yet). */
    public AccessMetrics(AccessControl access) {
        this.current = access;
    }

    /**
     * Reads {@code next} from now on (null: no lists), adding what the lists in use counted so far to the counters'
     * base. Binds the meters when the first lists come and a registry was given.
     */
    public synchronized void use(AccessControl next) {
        AccessControl old = current;
        if (old != null && old != next) {
            AccessStats o = old.stats();
            AccessStats b = before;
            before = new AccessStats(
                    b.deniedRequests() + o.deniedRequests(),
                    b.deniedConnections() + o.deniedConnections(),
                    b.reloads() + o.reloads(),
                    b.reloadFailures() + o.reloadFailures());
        }
        current = next;
        if (next != null && registry != null) {
            bind();
        }
    }

    /** The counters of every list used so far: the replaced ones' plus the current one's. */
    public AccessStats stats() {
        AccessStats b;
        AccessControl c;
        synchronized (this) {
            b = before;
            c = current;
        }
        if (c == null) {
            return b;
        }
        AccessStats s = c.stats();
        return new AccessStats(
                b.deniedRequests() + s.deniedRequests(),
                b.deniedConnections() + s.deniedConnections(),
                b.reloads() + s.reloads(),
                b.reloadFailures() + s.reloadFailures());
    }

    @Override
    public synchronized void bindTo(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
        if (current != null) {
            bind();
        }
    }

    private void bind() {
        if (bound) {
            return;
        }
        bound = true;
        counter(
                "torii.access.denied",
                "Requests and connections refused by an IP list.",
                "kind",
                "request",
                AccessStats::deniedRequests);
        counter(
                "torii.access.denied",
                "Requests and connections refused by an IP list.",
                "kind",
                "connection",
                AccessStats::deniedConnections);
        counter("torii.access.list.reloads", "IP list files reloaded.", null, null, AccessStats::reloads);
        counter(
                "torii.access.list.reload.failures",
                "IP list files that failed to reload.",
                null,
                null,
                AccessStats::reloadFailures);
        for (boolean allow : new boolean[] {true, false}) {
            // The function holds this object strongly (Micrometer holds the state object weakly).
            Gauge.builder("torii.access.list.entries", this, ignored -> {
                        AccessControl c = current;
                        return c == null ? 0 : c.entries(allow);
                    })
                    .description("Address blocks in the IP lists in use (files included), by rule.")
                    .tag("rule", allow ? "allow" : "deny")
                    .register(registry);
        }
    }

    private void counter(String name, String help, String tag, String value, ToDoubleFunction<AccessStats> f) {
        var b = FunctionCounter.builder(name, this, ignored -> f.applyAsDouble(stats()))
                .description(help);
        if (tag != null) {
            b.tag(tag, value);
        }
        b.register(registry);
    }
}
