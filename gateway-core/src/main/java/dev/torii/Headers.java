package dev.torii;

import java.util.List;
import java.util.Set;

/**
 * A mutable view of HTTP header fields. Names are case-insensitive. Not thread-safe: use it only on the exchange's
 * event loop, during the phases where the exchange allows changes.
 */
public interface Headers {
    /** The first value of {@code name}, or {@code null} when absent. */
    String get(String name);

    /** Every value of {@code name} in order; empty when absent. */
    List<String> getAll(String name);

    /** Whether {@code name} is present. */
    boolean contains(String name);

    /** Replaces every value of {@code name} with {@code value}. */
    Headers set(String name, String value);

    /** Adds a value of {@code name} after the existing ones. */
    Headers add(String name, String value);

    /** Removes every value of {@code name}; returns whether any was present. */
    boolean remove(String name);

    /** The distinct names present, in lower case. */
    Set<String> names();

    /** The number of fields (a name with three values counts three). */
    int size();
}
