package dev.torii.server.config;

import dev.torii.dns.DnsCache;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code dns:} section: the DNS cache through which upstream endpoints written as host names are resolved, and
 * which DNS listeners serve. Immutable; {@link #newCache()} builds a running cache from it. Settings the file leaves
 * out are {@code null} (the cache's defaults apply); docs/dns.md lists every key.
 *
 * @param resolvConf a resolv.conf(5) whose name servers, search list, ndots, timeout and attempts are taken first; the
 *     section's own keys override them
 * @param tuning the upstream, TTL, stale and failure settings of names outside every zone
 * @param maxEntries the most answers kept
 * @param maxInFlight the most upstream lookups in flight at once
 * @param queueLimit how many lookups may wait for an in-flight slot
 * @param searchList the search domains of relative names
 * @param ndots names with fewer dots try the search list first
 * @param ednsPayloadSize the EDNS(0) UDP payload size advertised upstream
 * @param zones forward zones by apex (e.g. {@code cluster.local}), each with what it sets differently
 */
public record DnsSettings(
        Optional<Path> resolvConf,
        DnsTuning tuning,
        Long maxEntries,
        Integer maxInFlight,
        Integer queueLimit,
        List<String> searchList,
        Integer ndots,
        Integer ednsPayloadSize,
        Map<String, DnsTuning> zones) {

    public DnsSettings {
        Objects.requireNonNull(resolvConf, "resolvConf");
        Objects.requireNonNull(tuning, "tuning");
        searchList = searchList == null ? null : List.copyOf(searchList);
        zones = Map.copyOf(zones);
    }

    /** The DNS servers of names outside every zone, as written (empty when they come from {@code resolvConf}). */
    public List<String> upstreams() {
        return tuning.upstreams();
    }

    /** Whether the servers of names outside every zone are asked over TCP only. */
    public boolean forceTcp() {
        return Boolean.TRUE.equals(tuning.forceTcp());
    }

    /**
     * The builder these settings describe; {@code build()} validates the combination. Reads {@code resolvConf} when
     * set (an unreadable file fails with an {@link UncheckedIOException}).
     */
    public DnsCache.Builder cacheBuilder() {
        DnsCache.Builder b = DnsCache.builder();
        if (resolvConf.isPresent()) {
            try {
                b.resolvConf(resolvConf.get());
            } catch (IOException e) {
                throw new UncheckedIOException("dns.resolvConf: " + resolvConf.get() + ": " + e.getMessage(), e);
            }
        }
        tuning.applyTo(b);
        if (maxEntries != null) {
            b.maxEntries(maxEntries);
        }
        if (maxInFlight != null) {
            b.maxInFlight(maxInFlight);
        }
        if (queueLimit != null) {
            b.queueLimit(queueLimit);
        }
        if (searchList != null) {
            b.searchList(searchList);
        }
        if (ndots != null) {
            b.ndots(ndots);
        }
        if (ednsPayloadSize != null) {
            b.ednsPayloadSize(ednsPayloadSize);
        }
        zones.forEach((name, zone) -> b.zone(name, zone::applyTo));
        return b;
    }

    /** A new running cache; its owner closes it. */
    public DnsCache newCache() {
        return cacheBuilder().build();
    }
}
