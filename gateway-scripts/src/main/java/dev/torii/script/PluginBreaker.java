package dev.torii.script;

import java.time.Duration;
import java.util.Objects;

/**
 * A plugin's circuit breaker: when calls of the plugin run past their budget (statement limit or deadline)
 * {@code threshold} times within {@code window}, the plugin is short-circuited for {@code coolDown}: its phase
 * functions are not called at all. Failing <em>open</em>, exchanges go on as if the plugin were not attached; failing
 * <em>closed</em> (the default, safe for plugins that guard something), each is answered {@code 503} with
 * {@code Retry-After}. After the cool-down one call is let through: if it overruns again the breaker opens again at
 * once, else it closes. Immutable.
 *
 * <p>In a plugin's manifest: {@code "breaker": { "threshold": 5, "window": "10s", "coolDown": "30s", "failOpen":
 * false }} (every member optional); the runtime's default applies to plugins without one.
 *
 * @param threshold budget overruns that open the breaker; 0 turns the breaker off
 * @param window the span the overruns are counted in
 * @param coolDown how long the plugin stays short-circuited
 * @param failOpen skip the plugin while open ({@code true}) or answer 503 ({@code false})
 */
public record PluginBreaker(int threshold, Duration window, Duration coolDown, boolean failOpen) {
    public PluginBreaker {
        Objects.requireNonNull(window, "window");
        Objects.requireNonNull(coolDown, "coolDown");
        if (threshold < 0) {
            throw new IllegalArgumentException("breaker threshold: " + threshold + " (expected: >= 0; 0 turns it off)");
        }
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("breaker window: " + window + " (expected: > 0)");
        }
        if (coolDown.isNegative() || coolDown.isZero()) {
            throw new IllegalArgumentException("breaker coolDown: " + coolDown + " (expected: > 0)");
        }
    }

    /** 5 overruns in 10 s open it for 30 s, failing closed. */
    public static PluginBreaker defaults() {
        return new PluginBreaker(5, Duration.ofSeconds(10), Duration.ofSeconds(30), false);
    }

    /** A breaker that never opens. */
    public static PluginBreaker off() {
        return new PluginBreaker(0, Duration.ofSeconds(10), Duration.ofSeconds(30), false);
    }

    /** Whether it can open at all. */
    public boolean enabled() {
        return threshold > 0;
    }
}
