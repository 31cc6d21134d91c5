package dev.torii.server.config;

import dev.torii.dns.DnsCache;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The {@code dns:} section: the DNS cache through which upstream endpoints written as host names are resolved.
 * Immutable; {@link #newCache()} builds a running cache from it.
 *
 * @param upstreams the DNS servers, IP literals with an optional port ({@code "10.96.0.10:53"})
 * @param forceTcp ask the servers over TCP only (no UDP conntrack races)
 * @param minTtl the smallest TTL an answer is kept for
 * @param maxTtl the largest TTL an answer is kept for
 * @param staleFor how long past its TTL an answer may be served when the servers fail (RFC 8767)
 * @param queryTimeout the deadline of one query attempt
 */
public record DnsSettings(
        List<String> upstreams,
        boolean forceTcp,
        Duration minTtl,
        Duration maxTtl,
        Duration staleFor,
        Duration queryTimeout) {

    public DnsSettings {
        upstreams = List.copyOf(upstreams);
        Objects.requireNonNull(minTtl, "minTtl");
        Objects.requireNonNull(maxTtl, "maxTtl");
        Objects.requireNonNull(staleFor, "staleFor");
        Objects.requireNonNull(queryTimeout, "queryTimeout");
    }

    /** The builder these settings describe; {@code build()} validates the combination. */
    public DnsCache.Builder cacheBuilder() {
        return DnsCache.builder()
                .upstreams(upstreams.toArray(String[]::new))
                .forceTcp(forceTcp)
                .minTtl(minTtl)
                .maxTtl(maxTtl)
                .staleFor(staleFor)
                .queryTimeout(queryTimeout);
    }

    /** A new running cache; its owner closes it. */
    public DnsCache newCache() {
        return cacheBuilder().build();
    }
}
