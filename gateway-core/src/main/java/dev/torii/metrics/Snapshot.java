package dev.torii.metrics;

import java.util.function.Supplier;

/**
 * One snapshot shared by the many meters a scrape reads in a row: a source's {@code stats()} is taken once per scrape
 * (and at most every {@link #MAX_AGE_NANOS}), not once per meter. Thread-safe.
 */
final class Snapshot<T> implements Supplier<T> {
    /** Scrapes come seconds apart; the meters of one scrape are read within a few milliseconds. */
    static final long MAX_AGE_NANOS = 250_000_000L;

    private final Supplier<T> source;
    private T value;
    private long takenAt;

    Snapshot(Supplier<T> source) {
        this.source = source;
    }

    @Override
    public synchronized T get() {
        long now = System.nanoTime();
        if (value == null || now - takenAt > MAX_AGE_NANOS) {
            value = source.get();
            takenAt = now;
        }
        return value;
    }
}
