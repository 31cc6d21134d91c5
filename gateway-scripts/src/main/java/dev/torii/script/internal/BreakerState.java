package dev.torii.script.internal;

import dev.torii.script.PluginBreaker;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The run-time state of one attached plugin's {@link PluginBreaker}: overruns counted in a fixed window, open until a
 * time, and half-open after it (one overrun re-opens at once, one success closes).
 *
 * <p>Thread-safe. The hot path ({@link #openNanos}) reads one volatile field; the rest runs only on overruns and
 * state changes, under the object's lock (a few event loops at most contend, and only while a plugin misbehaves).
 */
public final class BreakerState {
    private static final Logger log = LoggerFactory.getLogger(BreakerState.class);

    private final String plugin;
    private final PluginBreaker settings;
    private final LongSupplier nanoTime;
    private final LongAdder trips;
    private final LongAdder shortCircuited;
    private final LongAdder pluginTrips;
    /** While open: when it closes (half-opens); 0 when closed. */
    private volatile long openUntil;

    private boolean halfOpen;
    private long windowStart;
    private int overruns;

    public BreakerState(
            String plugin, PluginBreaker settings, LongSupplier nanoTime, LongAdder trips, LongAdder shortCircuited) {
        this(plugin, settings, nanoTime, trips, shortCircuited, new LongAdder());
    }

    /** With {@code pluginTrips}, the plugin's own count of trips, incremented with {@code trips}. */
    public BreakerState(
            String plugin,
            PluginBreaker settings,
            LongSupplier nanoTime,
            LongAdder trips,
            LongAdder shortCircuited,
            LongAdder pluginTrips) {
        this.pluginTrips = pluginTrips;
        this.plugin = plugin;
        this.settings = settings;
        this.nanoTime = nanoTime;
        this.trips = trips;
        this.shortCircuited = shortCircuited;
    }

    /** The settings. */
    public PluginBreaker settings() {
        return settings;
    }

    /**
     * Nanoseconds the breaker stays open from now (counting the call as short-circuited), or 0 when the plugin may be
     * called.
     */
    public long openNanos() {
        long until = openUntil;
        if (until == 0) {
            return 0;
        }
        long left = until - nanoTime.getAsLong();
        if (left > 0) {
            shortCircuited.increment();
            return left;
        }
        synchronized (this) {
            if (openUntil == until) {
                openUntil = 0;
                halfOpen = true;
            }
        }
        return 0;
    }

    /** A call ran past its budget. */
    public synchronized void overrun() {
        if (!settings.enabled()) {
            return;
        }
        long now = nanoTime.getAsLong();
        if (halfOpen) {
            trip(now, "its trial call after the cool-down overran too");
            return;
        }
        if (overruns == 0 || now - windowStart > settings.window().toNanos()) {
            windowStart = now;
            overruns = 0;
        }
        if (++overruns >= settings.threshold() && openUntil == 0) {
            trip(now, overruns + " budget overruns within " + settings.window().toMillis() + "ms");
        }
    }

    /** A call finished within its budget. */
    public void success() {
        if (halfOpen) {
            synchronized (this) {
                if (halfOpen) {
                    halfOpen = false;
                    overruns = 0;
                    log.info("plugin {}: breaker closed (a call after the cool-down stayed within its budget)", plugin);
                }
            }
        }
    }

    private void trip(long now, String why) {
        halfOpen = false;
        overruns = 0;
        openUntil = now + settings.coolDown().toNanos();
        if (openUntil == 0) {
            openUntil = 1;
        }
        trips.increment();
        pluginTrips.increment();
        log.warn(
                "plugin {}: breaker open for {}ms after {}; its calls are {}",
                plugin,
                settings.coolDown().toMillis(),
                why,
                settings.failOpen() ? "skipped (fail open)" : "answered 503 (fail closed)");
    }
}
