package dev.torii.server.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The {@code reload:} section: whether the server reloads its configuration file by itself when the file changes.
 * Immutable.
 *
 * @param watch reload when the configuration file changes (besides SIGHUP and {@code POST /reload})
 * @param debounce how long the file must stay unchanged before the reload runs: an editor or a ConfigMap update
 *     writes in several steps, and one reload should see the finished file
 */
public record ReloadSettings(boolean watch, Duration debounce) {
    /** No watching; a debounce of 500 ms if it is turned on. */
    public static final ReloadSettings DEFAULTS = new ReloadSettings(false, Duration.ofMillis(500));

    public ReloadSettings {
        Objects.requireNonNull(debounce, "debounce");
        if (debounce.isNegative() || debounce.isZero()) {
            throw new IllegalArgumentException("debounce: " + debounce + " (expected: > 0)");
        }
    }
}
