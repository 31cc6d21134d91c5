package dev.torii.script.internal;

import dev.torii.Phase;
import dev.torii.script.Plugin;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Value;

/**
 * One GraalJS context and what the runtime keeps with it: the prelude's entry points, each plugin's module namespace,
 * each attached hook's functions and frozen config, and the state of the call in progress.
 *
 * <p>Confined to one thread (an event loop), except the watchdog fields ({@link #state}, {@link #deadline},
 * {@link #seq}, {@link #timedOut}, {@link #dead}), which the watchdog thread reads and changes under the protocol
 * described in {@link ContextManager}.
 */
final class ThreadContext {
    static final int IDLE = 0;
    static final int RUNNING = 1;
    static final int INTERRUPTING = 2;

    final Context context;
    final ToriiBridge torii;
    Value invoke;
    /** The last duration a script passed (a TTL, a rate-limit period), parsed. */
    final Durations.Memo durations = new Durations.Memo();

    Value connect;
    Value config;
    /** The prelude's {@code settle(promise, call)}: reports a Promise's outcome to an {@link AsyncCall}. */
    Value settle;

    ContextManager manager;
    /** The event loop of the call in progress, where its async continuations run. */
    java.util.concurrent.Executor executor;
    /** The async state of the call in progress, once it has started asynchronous work; else null. */
    AsyncCall call;

    final Map<Plugin, Value> modules = new HashMap<>();
    private Bound[] bound = new Bound[8];

    // The call in progress; null phase = module evaluation (INIT).
    Phase phase;
    HookSpec spec;

    final AtomicInteger state = new AtomicInteger(IDLE);
    volatile long deadline;
    volatile long seq;
    volatile boolean timedOut;
    volatile boolean dead;

    ThreadContext(
            Context context,
            SharedZones zones,
            TimeSource time,
            ToriiBridge.LogSink sink,
            java.util.function.BooleanSupplier maintenance) {
        this.context = context;
        this.torii = new ToriiBridge(this, zones, time, sink, maintenance);
    }

    /**
     * A hook's functions (indexed by {@link Phase#ordinal()}, null where not exported) and its config in this context;
     * {@code called} marks the functions called once already.
     */
    record Bound(Value[] functions, Value config, boolean[] called) {}

    Bound bound(int id) {
        return id < bound.length ? bound[id] : null;
    }

    void bind(int id, Bound b) {
        if (id >= bound.length) {
            bound = Arrays.copyOf(bound, Math.max(id + 1, bound.length * 2));
        }
        bound[id] = b;
    }
}
