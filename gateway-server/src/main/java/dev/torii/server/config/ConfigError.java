package dev.torii.server.config;

import java.util.Objects;

/**
 * One problem found in a configuration file, with where it is. Immutable.
 *
 * @param source the file as the user named it (e.g. {@code torii.yaml} or {@code conf/torii.yaml})
 * @param line 1-based line, or 0 when the problem is the file as a whole (it cannot be read)
 * @param column 1-based column, or 0 with {@code line} 0
 * @param message what is wrong: the setting's path, the bad value and what was expected, e.g.
 *     {@code upstreams.app.loadBalancer: 'fastest' (expected one of: round-robin, least-in-flight)}
 */
public record ConfigError(String source, int line, int column, String message) implements Comparable<ConfigError> {
    public ConfigError {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(message, "message");
        if (line < 0 || column < 0 || (line == 0) != (column == 0)) {
            throw new IllegalArgumentException(
                    "line " + line + ", column " + column + " (expected: both >= 1, or both 0 for the whole file)");
        }
    }

    /** Errors sort by position, so a report reads top to bottom like the file. */
    @Override
    public int compareTo(ConfigError o) {
        int c = Integer.compare(line, o.line);
        return c != 0 ? c : Integer.compare(column, o.column);
    }

    /** {@code FILE:LINE:COLUMN: message}, the form compilers use and editors link to ({@code FILE: message} for 0). */
    @Override
    public String toString() {
        return line == 0 ? source + ": " + message : source + ":" + line + ":" + column + ": " + message;
    }
}
