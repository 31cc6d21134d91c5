package dev.torii.script;

import java.util.Map;
import java.util.Objects;

/**
 * One way a plugin configuration does not match the plugin's schema, as {@link Plugin#checkConfig(Map)} reports it.
 * Immutable.
 *
 * @param path where in the configuration, rooted at {@code config}: {@code config.rate}, {@code config.tags[1]},
 *     {@code config.limits.burst}; for a missing property, the path it should have
 * @param message the value and what was expected, e.g. {@code 0 (expected: >= 1)} or
 *     {@code missing (expected: a string)}
 */
public record ConfigProblem(String path, String message) {
    public ConfigProblem {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(message, "message");
    }

    /** {@code PATH: MESSAGE}, e.g. {@code config.rate: 0 (expected: >= 1)}. */
    @Override
    public String toString() {
        return path + ": " + message;
    }
}
