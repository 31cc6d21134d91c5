package dev.torii.script;

import java.time.Duration;

/**
 * A named dictionary shared by every event loop and every plugin of a {@link ScriptRuntime}: what scripts reach with
 * {@code torii.shared(zone)}, and what Java code (an admin endpoint, a test) can read and change. Values are
 * {@link String}, {@link Double} or {@link Boolean}. Bounded: past its capacity the least recently used entries are
 * evicted and counted. An entry may have a time to live.
 *
 * <p>Thread-safe; every operation on one key is atomic.
 */
public interface SharedDict {
    /** The zone's name. */
    String name();

    /** The value of {@code key}, or {@code null} when absent or expired. */
    Object get(String key);

    /**
     * Stores {@code value} under {@code key}, replacing any value.
     *
     * @param ttl how long the entry lives; {@code null} or zero for no expiry
     */
    void set(String key, Object value, Duration ttl);

    /** Stores {@code value} only when {@code key} is absent; returns whether it did. */
    boolean add(String key, Object value, Duration ttl);

    /**
     * Adds {@code delta} to the number under {@code key} and returns the new value. An absent key starts at 0 and gets
     * {@code ttl}; an existing entry keeps its expiry.
     *
     * @throws IllegalArgumentException when the value under {@code key} is not a number
     */
    double incr(String key, double delta, Duration ttl);

    /** Removes {@code key}; returns whether it was present. */
    boolean delete(String key);

    /** The number of entries (approximate: expired entries may still count until cleaned up). */
    long size();

    /** The most entries kept. */
    long capacity();

    /** How many entries were evicted to stay within {@link #capacity()} (expiry is not counted). */
    long evictions();
}
