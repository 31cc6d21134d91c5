package dev.torii.upstream;

import java.util.Locale;

/**
 * One address of an upstream: an IP literal or a host name, and a port. Immutable.
 *
 * @param host an IPv4 literal, an IPv6 literal without brackets, or a host name (lower case)
 * @param port 1-65535
 */
public record Endpoint(String host, int port) {
    public Endpoint {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("endpoint host: '" + host + "' (expected: a host name or IP address)");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("endpoint port: " + port + " (expected: 1-65535)");
        }
        host = host.toLowerCase(Locale.ROOT);
    }

    /** Parses {@code host:port}, {@code 1.2.3.4:80} or {@code [::1]:8080}. */
    public static Endpoint parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("endpoint: null (expected: host:port)");
        }
        String s = text.strip();
        String host;
        String port;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("endpoint: '" + text + "' (expected: [ipv6]:port)");
            }
            host = s.substring(1, close);
            port = s.substring(close + 2);
        } else {
            int colon = s.lastIndexOf(':');
            if (colon <= 0 || s.indexOf(':') != colon) {
                throw new IllegalArgumentException("endpoint: '" + text + "' (expected: host:port)");
            }
            host = s.substring(0, colon);
            port = s.substring(colon + 1);
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("endpoint: '" + text + "' (expected: host:port with a numeric port)");
        }
        return new Endpoint(host, p);
    }

    /** Whether {@link #host()} is an IP literal rather than a name to resolve. */
    public boolean isIpLiteral() {
        return host.indexOf(':') >= 0 || host.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
    }

    /** {@code host:port}, with brackets around an IPv6 literal: the form used in a Host header. */
    public String authority() {
        return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }

    @Override
    public String toString() {
        return authority();
    }
}
