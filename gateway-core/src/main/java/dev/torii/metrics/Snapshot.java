package dev.torii.metrics;

import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * One snapshot shared by the many meters a scrape reads in a row: a source's {@code stats()} is taken once per scrape,
 * not once per meter. Each meter reads through its own {@link #reader()}; a reader that already read the current
 * snapshot means a new scrape began, so it takes a fresh one. No clock involved: two scrapes a millisecond apart both
 * see fresh values. Thread-safe.
 */
final class Snapshot<T> {
    private final Supplier<T> source;
    private T value;
    private long generation;

    Snapshot(Supplier<T> source) {
        this.source = source;
    }

    /**
     * A meter function for {@code reader}: Micrometer holds a gauge's or function counter's state object weakly; the
     * function is held strongly by the meter and captures the reader, so the reader (and this snapshot) live as long
     * as the meter does. Use {@code reader} as the state object too.
     */
    static <T> ToDoubleFunction<Supplier<T>> read(Supplier<T> reader, ToDoubleFunction<T> f) {
        return ignored -> f.applyAsDouble(reader.get());
    }

    /** A supplier for one meter. */
    synchronized Supplier<T> reader() {
        return new Reader();
    }

    private synchronized T read(Reader r) {
        if (value == null || r.seen == generation) {
            value = source.get();
            generation++;
        }
        r.seen = generation;
        return value;
    }

    private final class Reader implements Supplier<T> {
        private long seen = -1;

        @Override
        public T get() {
            return read(this);
        }
    }
}
