package dev.torii.internal;

import java.net.InetAddress;
import java.util.List;

/**
 * A parsed CIDR block ({@code 10.0.0.0/8}, {@code ::1/128}, or a bare address for a single host). Immutable.
 *
 * @param network the block's address bytes (4 or 16)
 * @param bits the prefix length
 */
public record Cidr(byte[] network, int bits) {
    /** Parses {@code text}; throws {@link IllegalArgumentException} naming it and the expected form. */
    public static Cidr parse(String text) {
        int slash = text.indexOf('/');
        try {
            byte[] net = InetAddress.ofLiteral(slash < 0 ? text : text.substring(0, slash))
                    .getAddress();
            int bits = slash < 0 ? net.length * 8 : Integer.parseInt(text.substring(slash + 1));
            if (bits < 0 || bits > net.length * 8) {
                throw new IllegalArgumentException();
            }
            return new Cidr(net, bits);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "trustedProxies: '" + text + "' (expected: a CIDR block like 10.0.0.0/8)");
        }
    }

    /** Every block of {@code texts}, parsed once. */
    public static List<Cidr> parseAll(List<String> texts) {
        return texts.stream().map(Cidr::parse).toList();
    }

    /** Whether {@code address} falls in this block (an IPv4 address never falls in an IPv6 block). */
    public boolean contains(InetAddress address) {
        byte[] addr = address.getAddress();
        if (addr.length != network.length) {
            return false;
        }
        int full = bits / 8;
        for (int i = 0; i < full; i++) {
            if (addr[i] != network[i]) {
                return false;
            }
        }
        int rest = bits % 8;
        if (rest == 0) {
            return true;
        }
        int mask = 0xff << (8 - rest) & 0xff;
        return (addr[full] & mask) == (network[full] & mask);
    }

    /** Whether {@code address} falls in any of {@code blocks}. */
    public static boolean anyContains(List<Cidr> blocks, InetAddress address) {
        for (int i = 0; i < blocks.size(); i++) {
            if (blocks.get(i).contains(address)) {
                return true;
            }
        }
        return false;
    }
}
