package dev.torii.script.internal;

import java.time.Instant;
import java.time.InstantSource;

/**
 * Where the runtime reads time: a monotonic nanosecond ticker for TTLs and rate limits, and wall-clock milliseconds for
 * {@code torii.now()}. Tests substitute an {@link InstantSource} they advance, so nothing waits for real time.
 * Thread-safe.
 */
public interface TimeSource {
    /** Monotonic nanoseconds for measuring intervals. */
    long nanos();

    /** Milliseconds since the epoch. */
    long epochMillis();

    /** The system clocks. */
    TimeSource SYSTEM = new TimeSource() {
        @Override
        public long nanos() {
            return System.nanoTime();
        }

        @Override
        public long epochMillis() {
            return System.currentTimeMillis();
        }
    };

    /** Time read from {@code source} (both readings follow it). */
    static TimeSource of(InstantSource source) {
        if (source == InstantSource.system()) {
            return SYSTEM;
        }
        return new TimeSource() {
            @Override
            public long nanos() {
                Instant i = source.instant();
                return i.getEpochSecond() * 1_000_000_000L + i.getNano();
            }

            @Override
            public long epochMillis() {
                return source.millis();
            }
        };
    }
}
