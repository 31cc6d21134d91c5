package dev.torii.server.config;

import java.util.List;
import java.util.stream.Collectors;

/** A configuration file that cannot be used, with every problem found in it (not just the first). */
public final class ConfigException extends Exception {
    private final transient List<ConfigError> errors;

    /**
     * An exception for {@code errors}, which must not be empty.
     *
     * @throws IllegalArgumentException when {@code errors} is empty
     */
    public ConfigException(List<ConfigError> errors) {
        super(errors.stream().map(ConfigError::toString).collect(Collectors.joining("\n")));
        if (errors.isEmpty()) {
            throw new IllegalArgumentException("errors: [] (expected: at least one)");
        }
        this.errors = List.copyOf(errors);
    }

    /** Every problem, sorted by position in the file. */
    public List<ConfigError> errors() {
        return errors;
    }
}
