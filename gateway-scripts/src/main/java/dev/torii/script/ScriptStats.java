package dev.torii.script;

/**
 * Counters of a {@link ScriptRuntime} since it was built. Immutable snapshot.
 *
 * @param failures phase calls that failed for any reason (each answered HOOK_FAILED, or logged in LOG)
 * @param timeouts failures that ran past the wall-clock deadline
 * @param budgetsExceeded failures that ran past the statement limit
 * @param contextsCreated JavaScript contexts created (one per event loop, plus replacements)
 * @param contextsReplaced contexts discarded after a cancelled call and replaced
 * @param sharedEvictions entries evicted from every shared dictionary to stay within capacity
 * @param breakerTrips times a plugin's {@link PluginBreaker} opened
 * @param shortCircuited phase calls skipped or answered 503 because their plugin's breaker was open
 */
public record ScriptStats(
        long failures,
        long timeouts,
        long budgetsExceeded,
        long contextsCreated,
        long contextsReplaced,
        long sharedEvictions,
        long breakerTrips,
        long shortCircuited) {}
