package dev.torii.server.config;

import dev.torii.dns.DnsCache;
import java.time.Duration;
import java.util.List;

/**
 * The DNS settings that the {@code dns:} section and each of its forward {@code zones} may set. Each is {@code null}
 * when the file does not set it: the cache's default then applies (for a zone: the section's value), or what
 * {@code resolvConf} imported. Immutable.
 *
 * @param upstreams the DNS servers, IP literals with an optional port ({@code "10.96.0.10:53"}); empty when not set
 * @param forceTcp ask the servers over TCP only (no UDP conntrack races)
 * @param attempts upstream attempts per lookup, each on the next server
 * @param queryTimeout the deadline of one attempt
 * @param retryBackoff the base of the jittered pause between attempts
 * @param staleClientTimeout how long a lookup of an expired answer waits for its refresh before it is answered stale
 * @param staleFor how long past its TTL an answer may be served stale (RFC 8767)
 * @param staleAnswerTtl the TTL of stale answers to DNS clients, and the longest pause between background refreshes
 * @param minTtl the shortest time an answer stays fresh
 * @param maxTtl the longest time a positive answer stays fresh
 * @param maxNegativeTtl the longest time a negative answer stays fresh
 * @param failureTtl how long an upstream failure is remembered (RFC 9520)
 * @param refreshAheadAt the fraction of the TTL after which a use prefetches the answer
 */
public record DnsTuning(
        List<String> upstreams,
        Boolean forceTcp,
        Integer attempts,
        Duration queryTimeout,
        Duration retryBackoff,
        Duration staleClientTimeout,
        Duration staleFor,
        Duration staleAnswerTtl,
        Duration minTtl,
        Duration maxTtl,
        Duration maxNegativeTtl,
        Duration failureTtl,
        Double refreshAheadAt) {

    /** Copies the list. */
    public DnsTuning {
        upstreams = List.copyOf(upstreams);
    }

    /** Sets on {@code b} what these settings set, and nothing else. */
    public DnsCache.Builder applyTo(DnsCache.Builder b) {
        if (!upstreams.isEmpty()) {
            b.upstreams(upstreams.toArray(String[]::new));
        }
        if (forceTcp != null) {
            b.forceTcp(forceTcp);
        }
        if (attempts != null) {
            b.attempts(attempts);
        }
        if (queryTimeout != null) {
            b.queryTimeout(queryTimeout);
        }
        if (retryBackoff != null) {
            b.retryBackoff(retryBackoff);
        }
        if (staleClientTimeout != null) {
            b.staleClientTimeout(staleClientTimeout);
        }
        if (staleFor != null) {
            b.staleFor(staleFor);
        }
        if (staleAnswerTtl != null) {
            b.staleAnswerTtl(staleAnswerTtl);
        }
        if (minTtl != null) {
            b.minTtl(minTtl);
        }
        if (maxTtl != null) {
            b.maxTtl(maxTtl);
        }
        if (maxNegativeTtl != null) {
            b.maxNegativeTtl(maxNegativeTtl);
        }
        if (failureTtl != null) {
            b.failureTtl(failureTtl);
        }
        if (refreshAheadAt != null) {
            b.refreshAheadAt(refreshAheadAt);
        }
        return b;
    }
}
