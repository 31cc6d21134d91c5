package dev.torii;

import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.Objects;

/**
 * An address the gateway accepts connections on, and the protocol spoken there. Immutable.
 *
 * @param name a name unique in the gateway, used in logs and to look up the bound address
 * @param protocol what is spoken on it
 * @param host the IP address (or {@code localhost}) to bind
 * @param port the port, or 0 for any free port (see {@link Gateway#address(String)})
 */
public record Listener(String name, Protocol protocol, String host, int port) {
    /** What a listener speaks. */
    public enum Protocol {
        /** HTTP/1.1 (and, from the HTTP/2 work on, h2c) in clear text. */
        HTTP
    }

    public Listener {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(protocol, "protocol");
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: host '" + host + "' (expected: an IP address)");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: port " + port + " (expected: 0-65535)");
        }
    }

    /** An HTTP listener on {@code host:port} ({@code [::1]:8080} for IPv6). */
    public static Listener http(String name, String address) {
        InetSocketAddress a = parseAddress(name, address);
        return new Listener(name, Protocol.HTTP, a.getHostString(), a.getPort());
    }

    /** Parses {@code host:port} or {@code [v6]:port} into an unresolved address. */
    static InetSocketAddress parseAddress(String name, String address) {
        String s = Objects.requireNonNull(address, "address").strip();
        int colon = s.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: '" + address + "' (expected: host:port)");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: '" + address + "' (expected: [ipv6]:port)");
        }
        try {
            return InetSocketAddress.createUnresolved(
                    host.toLowerCase(Locale.ROOT), Integer.parseInt(s.substring(colon + 1)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: '" + address + "' (expected: host:port, port 0-65535)");
        }
    }
}
