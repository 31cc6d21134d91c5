package dev.torii;

import dev.torii.internal.Cidr;
import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * Which forwarding headers the gateway adds to upstream requests. Immutable.
 *
 * <p>With {@code xForwarded} on, a request from a trusted proxy keeps its {@code X-Forwarded-For} chain and gets the
 * client address appended, and keeps its {@code X-Forwarded-Proto} and {@code X-Forwarded-Host}; from anyone else
 * those headers are replaced, so a client cannot forge them.
 *
 * @param via add {@code Via: 1.1 <viaName>} (appended to any existing Via)
 * @param viaName the pseudonym in Via
 * @param xForwarded add {@code X-Forwarded-For}, {@code -Proto} and {@code -Host}
 * @param trustedProxies CIDR blocks ({@code 10.0.0.0/8}, {@code ::1/128}) whose forwarding headers are kept
 */
public record Forwarding(boolean via, String viaName, boolean xForwarded, List<String> trustedProxies) {
    public Forwarding {
        Objects.requireNonNull(viaName, "viaName");
        trustedProxies = List.copyOf(trustedProxies);
        Cidr.parseAll(trustedProxies); // validates each block
    }

    /** Via and X-Forwarded-* on, no trusted proxies. */
    public static Forwarding defaults() {
        return new Forwarding(true, "torii", true, List.of());
    }

    /** Whether {@code address} falls in one of {@link #trustedProxies()} (parses the blocks on each call). */
    public boolean isTrusted(InetAddress address) {
        return Cidr.anyContains(Cidr.parseAll(trustedProxies), address);
    }
}
