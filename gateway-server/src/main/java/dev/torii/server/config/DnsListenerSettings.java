package dev.torii.server.config;

import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsRateLimit;
import dev.torii.dns.DnsServer;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A listener with {@code protocol: dns}: the DNS server mode, answering clients from the {@code dns:} section's cache
 * on UDP and TCP at one address. Immutable; {@link #serverBuilder} makes the {@link DnsServer} it describes.
 *
 * @param name the listener's name (logs, metrics label {@code listener})
 * @param address the IP address and port, as written ({@code "169.254.20.10:53"})
 * @param rateLimit the per-client query rate limit, if any
 * @param tcpIdleTimeout how long an idle TCP connection stays open
 * @param maxTcpConnections the most TCP connections open at once
 * @param maxPendingQueries the most queries waiting for upstream answers at once
 */
public record DnsListenerSettings(
        String name,
        String address,
        Optional<DnsRateLimit> rateLimit,
        Duration tcpIdleTimeout,
        int maxTcpConnections,
        int maxPendingQueries) {

    public DnsListenerSettings {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(rateLimit, "rateLimit");
        Objects.requireNonNull(tcpIdleTimeout, "tcpIdleTimeout");
    }

    /** The builder of this listener's server over {@code cache}, with {@code ioThreads} event loops. */
    public DnsServer.Builder serverBuilder(DnsCache cache, int ioThreads) {
        return DnsServer.builder(cache)
                .name(name)
                .address(address)
                .ioThreads(ioThreads)
                .rateLimit(rateLimit.orElse(null))
                .tcpIdleTimeout(tcpIdleTimeout)
                .maxTcpConnections(maxTcpConnections)
                .maxPendingQueries(maxPendingQueries);
    }
}
