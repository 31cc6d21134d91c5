package dev.torii.dns.internal;

/**
 * The caching policy in the units the hot path uses (nanoseconds of the cache's ticker).
 *
 * @param minTtlNanos the shortest time an answer is fresh, whatever its TTL says
 * @param maxTtlNanos the longest time a positive answer is fresh
 * @param maxNegativeTtlNanos the longest time a negative answer (NXDOMAIN, no data) is fresh
 * @param staleForNanos how long after it stops being fresh an answer may still be served stale (0: never)
 * @param staleAnswerTtlSeconds the TTL written on stale answers, and how long to wait before retrying an upstream for
 *     a name that was just served stale
 * @param refreshAheadAt the fraction of an answer's fresh time after which a use triggers a background refresh (1: off)
 */
public record Policy(
        long minTtlNanos,
        long maxTtlNanos,
        long maxNegativeTtlNanos,
        long staleForNanos,
        long staleAnswerTtlSeconds,
        double refreshAheadAt) {

    long positive(long ttlSeconds) {
        return Math.min(Math.max(seconds(ttlSeconds), minTtlNanos), maxTtlNanos);
    }

    long negative(long ttlSeconds) {
        return Math.min(Math.max(seconds(ttlSeconds), minTtlNanos), maxNegativeTtlNanos);
    }

    private static long seconds(long s) {
        // TTLs are unsigned 32-bit on the wire: at most about 136 years, which fits in nanoseconds of a long.
        return s * 1_000_000_000L;
    }
}
