package dev.torii.proxyprotocol;

import dev.torii.internal.Cidr;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A listener accepts the PROXY protocol (v1 or v2, detected) from trusted peers: a connection from an address inside
 * {@link #trustedCidrs()} must start with a PROXY header, whose source address then is the connection's client address
 * everywhere (CONNECT hooks, {@code ex.client}, X-Forwarded-For, rate-limit keys, IP lists checked per request, logs).
 * A connection from any other peer is taken as a direct client: its bytes are not parsed for a header, so an untrusted
 * peer cannot claim another address. A trusted peer that sends no valid header within {@link #headerTimeout()} is
 * closed; a {@code LOCAL} header (a load balancer's health check) keeps the peer's own address. Immutable.
 *
 * @param trustedCidrs the peers allowed to send a header (IPv4 or IPv6 CIDR blocks, or single addresses)
 * @param headerTimeout how long a trusted peer may take to send its header
 */
public record ProxyProtocolAccept(List<String> trustedCidrs, Duration headerTimeout) {
    /** Default of {@link #headerTimeout()}. */
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(5);

    public ProxyProtocolAccept {
        trustedCidrs = List.copyOf(trustedCidrs);
        if (trustedCidrs.isEmpty()) {
            throw new IllegalArgumentException(
                    "proxyProtocol trustedCidrs: [] (expected: at least one CIDR block, such as 10.0.0.0/8)");
        }
        for (String cidr : trustedCidrs) {
            try {
                Cidr.parse(cidr);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("proxyProtocol trustedCidrs: '" + cidr
                        + "' (expected: a CIDR block such as 10.0.0.0/8 or an address)");
            }
        }
        Objects.requireNonNull(headerTimeout, "headerTimeout");
        if (headerTimeout.isNegative() || headerTimeout.isZero()) {
            throw new IllegalArgumentException("proxyProtocol headerTimeout: " + headerTimeout + " (expected: > 0)");
        }
    }

    /** Accepts headers from these peers, with the default header timeout. */
    public static ProxyProtocolAccept from(String... trustedCidrs) {
        return new ProxyProtocolAccept(List.of(trustedCidrs), DEFAULT_HEADER_TIMEOUT);
    }
}
