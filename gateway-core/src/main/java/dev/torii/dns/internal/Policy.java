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
 * @param staleClientTimeoutNanos how long a lookup of an expired answer waits for its refresh before it is answered
 *     stale (RFC 8767's client response timer; 0: stale at once, refreshed in the background)
 * @param failureTtlNanos how long a failed lookup (SERVFAIL, timeouts) without a stale answer is remembered and
 *     answered as failed without asking upstream again (RFC 9520; 0: not remembered)
 */
public record Policy(
        long minTtlNanos,
        long maxTtlNanos,
        long maxNegativeTtlNanos,
        long staleForNanos,
        long staleAnswerTtlSeconds,
        double refreshAheadAt,
        long staleClientTimeoutNanos,
        long failureTtlNanos) {

    /** The shortest pause before the background refresh of a name served stale retries; doubled per failure. */
    static final long STALE_REFRESH_BASE_NANOS = 1_000_000_000L;

    /**
     * When the next background refresh of an answer served stale may go upstream, {@code failures} refreshes having
     * failed: 1 s, 2 s, 4 s ... capped at the stale answer TTL, so a silent upstream costs one query per name and
     * interval, and a recovered one is noticed within a second or two.
     */
    long staleRetryAfter(long now, int failures) {
        long cap = staleAnswerTtlSeconds * 1_000_000_000L;
        long pause = Math.min(cap, STALE_REFRESH_BASE_NANOS << Math.min(Math.max(failures - 1, 0), 20));
        return now + pause;
    }

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
