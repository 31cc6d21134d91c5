package dev.torii;

import java.net.InetAddress;
import java.net.UnknownHostException;
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
        for (String cidr : trustedProxies) {
            validateCidr(cidr);
        }
    }

    /** Via and X-Forwarded-* on, no trusted proxies. */
    public static Forwarding defaults() {
        return new Forwarding(true, "torii", true, List.of());
    }

    /** Whether {@code address} falls in one of {@link #trustedProxies()}. */
    public boolean isTrusted(InetAddress address) {
        for (String cidr : trustedProxies) {
            if (contains(cidr, address)) {
                return true;
            }
        }
        return false;
    }

    private static void validateCidr(String cidr) {
        int slash = cidr.indexOf('/');
        try {
            byte[] net = InetAddress.ofLiteral(slash < 0 ? cidr : cidr.substring(0, slash))
                    .getAddress();
            int bits = slash < 0 ? net.length * 8 : Integer.parseInt(cidr.substring(slash + 1));
            if (bits < 0 || bits > net.length * 8) {
                throw new IllegalArgumentException();
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "trustedProxies: '" + cidr + "' (expected: a CIDR block like 10.0.0.0/8)");
        }
    }

    private static boolean contains(String cidr, InetAddress address) {
        int slash = cidr.indexOf('/');
        byte[] net;
        try {
            net = InetAddress.getByName(slash < 0 ? cidr : cidr.substring(0, slash))
                    .getAddress();
        } catch (UnknownHostException e) {
            return false;
        }
        byte[] addr = address.getAddress();
        if (addr.length != net.length) {
            return false;
        }
        int bits = slash < 0 ? net.length * 8 : Integer.parseInt(cidr.substring(slash + 1));
        int full = bits / 8;
        for (int i = 0; i < full; i++) {
            if (addr[i] != net[i]) {
                return false;
            }
        }
        int rest = bits % 8;
        if (rest == 0) {
            return true;
        }
        int mask = 0xff << (8 - rest) & 0xff;
        return (addr[full] & mask) == (net[full] & mask);
    }
}
