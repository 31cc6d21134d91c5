package dev.torii.dns.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * A fixed-bucket latency histogram: lock-free to record (one {@link LongAdder} per bucket), cheap to read, and small
 * enough that one exists per cache. The buckets follow a 1-2.5-5 progression from 100 µs to 5 s, the range that
 * separates a node-local answer from a cross-node one and from a retry after a lost packet.
 */
public final class LatencyRecorder {
    private static final long[] UPPER_BOUNDS_MICROS = {
        100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
        5_000_000
    };
    /** The upper bound of each bucket but the last, which is unbounded. */
    public static final List<Duration> UPPER_BOUNDS = bounds();

    private final LongAdder[] counts = new LongAdder[UPPER_BOUNDS_MICROS.length + 1];

    /** An empty histogram. */
    public LatencyRecorder() {
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    /** Counts one sample of {@code nanos} nanoseconds. */
    public void record(long nanos) {
        long micros = nanos / 1_000;
        int i = 0;
        while (i < UPPER_BOUNDS_MICROS.length && micros > UPPER_BOUNDS_MICROS[i]) {
            i++;
        }
        counts[i].increment();
    }

    /** The count of each bucket, in the order of {@link #UPPER_BOUNDS}, the overflow bucket last. */
    public List<Long> snapshot() {
        List<Long> out = new ArrayList<>(counts.length);
        for (LongAdder c : counts) {
            out.add(c.sum());
        }
        return List.copyOf(out);
    }

    private static List<Duration> bounds() {
        List<Duration> out = new ArrayList<>();
        for (long b : UPPER_BOUNDS_MICROS) {
            out.add(Duration.ofNanos(b * 1_000));
        }
        return List.copyOf(out);
    }
}
