package dev.torii.script;

/**
 * Counters of one plugin (by name, over every attachment and version of it) since its {@link ScriptRuntime} was
 * built. Immutable snapshot; {@link ScriptRuntime#pluginStats()} holds one per plugin the runtime loaded.
 *
 * @param calls phase function calls that ran JavaScript (a phase the plugin does not export is not a call)
 * @param failures calls that failed for any reason: threw, returned something invalid, or ran past a budget
 * @param timeouts failures that ran past the wall-clock deadline
 * @param budgetsExceeded failures that ran past the statement limit
 * @param breakerTrips times the plugin's {@link PluginBreaker} opened
 */
public record PluginStats(long calls, long failures, long timeouts, long budgetsExceeded, long breakerTrips) {}
