package dev.torii.dns;

import java.time.Duration;
import java.util.List;

/**
 * A snapshot of a {@link DnsCache}'s counters, taken by {@link DnsCache#stats()}. Counters count since the cache was
 * built and only grow; gauges ({@code inFlight}, {@code queued}, {@code entries}) are the values at the snapshot.
 * Each counter counts record lookups (one name and one type): a {@link DnsCache#resolve(String)} of a name that needs
 * no search list counts two, one for A and one for AAAA.
 *
 * <p>Immutable and thread-safe. The counters are read one after the other, not atomically together.
 *
 * @param hits lookups answered from a fresh cached answer
 * @param staleServed lookups answered from an expired answer within the stale window (RFC 8767): at once because its
 *     refresh is under way or failed, after the client timeout ({@code staleClientTimeout}) when the refresh was slower,
 *     or after the upstream query failed
 * @param misses lookups that had to wait for an upstream answer (including those that joined a query in flight)
 * @param coalesced misses that joined an identical query already in flight instead of sending their own
 * @param refreshes background refreshes started: prefetches of answers used late in their TTL, refreshes of stale
 *     answers past their retry time, and the A or AAAA sibling refreshed with either
 * @param rejected lookups refused because the in-flight cap and the wait queue were full and nothing stale was cached
 * @param failuresCached upstream failures (SERVFAIL and the like, or timeouts, on every attempt) remembered for
 *     {@code failureTtl} because nothing stale could be served (RFC 9520)
 * @param failureHits lookups failed at once from a remembered failure, without asking upstream
 * @param upstreamQueries queries sent to upstream servers (each attempt counts; a TCP retry after a truncated UDP answer
 *     counts as part of its attempt)
 * @param upstreamErrors attempts that failed: timeouts, I/O errors, malformed answers, SERVFAIL, REFUSED, ...
 * @param upstreamTimeouts the attempts among {@code upstreamErrors} that missed their deadline
 * @param inFlight upstream lookups in flight now (at most {@code maxInFlight})
 * @param queued lookups waiting for an in-flight slot now (at most {@code queueLimit})
 * @param entries the approximate number of cached answers (positive and negative, fresh and stale)
 * @param upstreamLatency the round-trip times of answered upstream attempts
 */
public record DnsCacheStats(
        long hits,
        long staleServed,
        long misses,
        long coalesced,
        long refreshes,
        long rejected,
        long failuresCached,
        long failureHits,
        long upstreamQueries,
        long upstreamErrors,
        long upstreamTimeouts,
        int inFlight,
        int queued,
        long entries,
        Histogram upstreamLatency) {

    /**
     * A latency histogram with fixed buckets. Immutable and thread-safe.
     *
     * @param upperBounds the inclusive upper bound of each bucket but the last, ascending
     * @param counts the number of samples in each bucket; one more than {@code upperBounds}, the last counting
     *     samples above the highest bound
     */
    public record Histogram(List<Duration> upperBounds, List<Long> counts) {
        /** Copies the lists and checks that there is one more count than bounds. */
        public Histogram {
            upperBounds = List.copyOf(upperBounds);
            counts = List.copyOf(counts);
            if (counts.size() != upperBounds.size() + 1) {
                throw new IllegalArgumentException("counts: " + counts.size() + " buckets (expected: "
                        + (upperBounds.size() + 1) + ", one more than upperBounds)");
            }
        }

        /** The number of samples in all buckets. */
        public long count() {
            long sum = 0;
            for (long c : counts) {
                sum += c;
            }
            return sum;
        }
    }
}
