package dev.torii.script;

import java.util.List;

/**
 * What one {@link ScriptRuntime#reload()} (or one round of its file watcher) did. Immutable.
 *
 * @param reloaded the plugins whose new version is now in use by every hook attached from them
 * @param failures one message per plugin that changed but cannot be used, starting with {@code FILE:LINE:COLUMN}
 *     when the problem is in a file (a syntax error, a bad manifest), or with {@code plugin NAME} when the new
 *     schema rejects a configuration; the previous version of each of these plugins stays in use
 */
public record ReloadResult(List<Plugin> reloaded, List<String> failures) {
    public ReloadResult {
        reloaded = List.copyOf(reloaded);
        failures = List.copyOf(failures);
    }

    /** Whether nothing was reloaded and nothing failed: no plugin had changed. */
    public boolean isEmpty() {
        return reloaded.isEmpty() && failures.isEmpty();
    }
}
