package dev.torii.script.internal;

import dev.torii.script.PluginStats;
import java.util.concurrent.atomic.LongAdder;

/** The counters of one plugin name, shared by every event loop (striped adders: no contention on the hot path). */
public final class PluginCounters {
    final LongAdder calls = new LongAdder();
    final LongAdder failures = new LongAdder();
    final LongAdder timeouts = new LongAdder();
    final LongAdder budgets = new LongAdder();
    final LongAdder breakerTrips = new LongAdder();

    /** A snapshot. */
    public PluginStats snapshot() {
        return new PluginStats(calls.sum(), failures.sum(), timeouts.sum(), budgets.sum(), breakerTrips.sum());
    }
}
