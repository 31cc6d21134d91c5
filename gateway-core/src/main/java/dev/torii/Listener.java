package dev.torii;

import dev.torii.tls.ServerTls;
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
 * @param tls TLS termination for {@link Protocol#HTTPS}; {@code null} otherwise
 * @param options this listener's own settings ({@link ListenerOptions#DEFAULTS} when it sets none)
 */
public record Listener(String name, Protocol protocol, String host, int port, ServerTls tls, ListenerOptions options) {
    /** What a listener speaks. */
    public enum Protocol {
        /**
         * HTTP in clear text: HTTP/1.1, and h2c both with prior knowledge (the connection starts with the HTTP/2
         * preface) and through the HTTP/1.1 {@code Upgrade: h2c} of a request without a body.
         */
        HTTP,
        /** HTTP over TLS: h2 or HTTP/1.1 as ALPN settles it (HTTP/1.1 when the client offers no ALPN). */
        HTTPS
    }

    /** A listener without TLS and without options of its own. */
    public Listener(String name, Protocol protocol, String host, int port) {
        this(name, protocol, host, port, null, ListenerOptions.DEFAULTS);
    }

    /** A listener without options of its own. */
    public Listener(String name, Protocol protocol, String host, int port, ServerTls tls) {
        this(name, protocol, host, port, tls, ListenerOptions.DEFAULTS);
    }

    public Listener {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(options, "options");
        if (options.sni() != null) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' sni: SNI passthrough routing is for TCP listeners (expected: none here)");
        }
        if (options.sendProxyProtocol() != null) {
            throw new IllegalArgumentException("listener '" + name
                    + "' sendProxyProtocol: sending PROXY headers is for TCP listeners (expected: none here)");
        }
        Objects.requireNonNull(protocol, "protocol");
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: host '" + host + "' (expected: an IP address)");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: port " + port + " (expected: 0-65535)");
        }
        if ((protocol == Protocol.HTTPS) != (tls != null)) {
            throw new IllegalArgumentException("listener '" + name + "': protocol " + protocol
                    + (tls == null ? " needs TLS settings" : " takes no TLS settings (expected: HTTPS)"));
        }
    }

    /** An HTTP listener on {@code host:port} ({@code [::1]:8080} for IPv6). */
    public static Listener http(String name, String address) {
        InetSocketAddress a = parseAddress(name, address);
        return new Listener(name, Protocol.HTTP, a.getHostString(), a.getPort());
    }

    /** An HTTPS listener on {@code host:port}: TLS with SNI, then h2 or HTTP/1.1 by ALPN. */
    public static Listener https(String name, String address, ServerTls tls) {
        InetSocketAddress a = parseAddress(name, address);
        return new Listener(name, Protocol.HTTPS, a.getHostString(), a.getPort(), Objects.requireNonNull(tls, "tls"));
    }

    /** This listener with {@code options} in place of its own. */
    public Listener withOptions(ListenerOptions options) {
        return new Listener(name, protocol, host, port, tls, options);
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
