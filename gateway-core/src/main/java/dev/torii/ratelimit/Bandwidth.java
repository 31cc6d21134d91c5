package dev.torii.ratelimit;

import java.time.Duration;
import java.util.Objects;

/**
 * One token bucket of a {@link RateLimitPolicy}: {@code rate} tokens added every {@code per}, holding at most
 * {@code burst}. A request takes one token from every bandwidth of its policy; {@code 10/s} together with
 * {@code 300/min} allows short bursts of ten per second but no more than 300 in any minute. Immutable.
 *
 * @param rate tokens added every {@code per}; at least 1
 * @param per the refill period; at least 1 ms
 * @param burst the bucket's capacity: how many requests may arrive at once after a quiet spell; at least 1
 */
public record Bandwidth(long rate, Duration per, long burst) {
    public Bandwidth {
        if (rate <= 0) {
            throw new IllegalArgumentException("rate: " + rate + " (expected: > 0)");
        }
        Objects.requireNonNull(per, "per");
        if (per.compareTo(Duration.ofMillis(1)) < 0) {
            throw new IllegalArgumentException("per: " + per + " (expected: >= 1ms)");
        }
        if (burst <= 0) {
            throw new IllegalArgumentException("burst: " + burst + " (expected: > 0)");
        }
    }

    /** {@code rate} per {@code per} with a burst of {@code rate}. */
    public static Bandwidth of(long rate, Duration per) {
        return new Bandwidth(rate, per, rate);
    }

    /** The period in whole seconds, at least 1: the {@code w} parameter of the {@code RateLimit-Policy} header. */
    public long windowSeconds() {
        return Math.max(1, (per.toNanos() + 999_999_999L) / 1_000_000_000L);
    }

    @Override
    public String toString() {
        return rate + "/" + per.toString().substring(2).toLowerCase(java.util.Locale.ROOT) + " burst " + burst;
    }
}
