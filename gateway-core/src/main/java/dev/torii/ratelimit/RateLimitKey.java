package dev.torii.ratelimit;

import dev.torii.Exchange;
import java.net.InetAddress;
import java.util.Objects;

/**
 * What a {@link RateLimitPolicy} counts by: each distinct key has its own buckets. The stock keys are the client's IP
 * address ({@link #clientIp()}), a request header ({@link #header}), the matched route ({@link #route()}) and a cookie
 * ({@link #cookie}); any function of the exchange works too (a JavaScript plugin computes one with
 * {@code ex.limit(key, "policy")}).
 *
 * <p>A key of {@code null} means "not limited by this policy" (like nginx's {@code limit_req} with an empty key): a
 * request without the header, say, passes. Called on the exchange's event loop; must not block and must be
 * thread-safe.
 */
@FunctionalInterface
public interface RateLimitKey {
    /** The key of {@code exchange}, or {@code null} to let it through unlimited. */
    String of(Exchange exchange);

    /** The client's IP address: the TCP peer of the connection (not X-Forwarded-For). */
    static RateLimitKey clientIp() {
        return Spec.CLIENT_IP;
    }

    /** The first value of request header {@code name}; requests without it are not limited. */
    static RateLimitKey header(String name) {
        return new Spec("header:" + requireToken(name, "header"), name, Kind.HEADER);
    }

    /** The matched route's name: one bucket per route. Only on a route (global hooks run before routing). */
    static RateLimitKey route() {
        return Spec.ROUTE;
    }

    /** The value of cookie {@code name}; requests without it are not limited. */
    static RateLimitKey cookie(String name) {
        return new Spec("cookie:" + requireToken(name, "cookie"), name, Kind.COOKIE);
    }

    /**
     * The key written as in the configuration: {@code clientIp}, {@code route}, {@code header:NAME} or
     * {@code cookie:NAME}.
     *
     * @throws IllegalArgumentException naming the text and what was expected
     */
    static RateLimitKey parse(String text) {
        Objects.requireNonNull(text, "text");
        if (text.equals("clientIp")) {
            return clientIp();
        }
        if (text.equals("route")) {
            return route();
        }
        if (text.startsWith("header:") && text.length() > 7) {
            return header(text.substring(7));
        }
        if (text.startsWith("cookie:") && text.length() > 7) {
            return cookie(text.substring(7));
        }
        throw new IllegalArgumentException(
                "key: '" + text + "' (expected: clientIp, route, header:NAME or cookie:NAME)");
    }

    private static String requireToken(String name, String what) {
        if (name == null || name.isEmpty() || !name.chars().allMatch(c -> c > 32 && c < 127 && c != ';' && c != '=')) {
            throw new IllegalArgumentException(what + ": '" + name + "' (expected: a " + what + " name)");
        }
        return name;
    }

    /** The kinds of stock keys. */
    enum Kind {
        CLIENT_IP,
        HEADER,
        ROUTE,
        COOKIE
    }

    /**
     * A stock key, printed as written in the configuration.
     *
     * @param text the configuration form, e.g. {@code header:x-api-key}
     * @param name the header or cookie name, or {@code null}
     * @param kind which stock key
     */
    record Spec(String text, String name, Kind kind) implements RateLimitKey {
        static final Spec CLIENT_IP = new Spec("clientIp", null, Kind.CLIENT_IP);
        static final Spec ROUTE = new Spec("route", null, Kind.ROUTE);

        @Override
        public String of(Exchange exchange) {
            return switch (kind) {
                case CLIENT_IP -> {
                    InetAddress a = exchange.clientAddress().getAddress();
                    yield a == null ? exchange.clientAddress().getHostString() : a.getHostAddress();
                }
                case HEADER -> exchange.request().headers().get(name);
                case ROUTE -> exchange.route() == null ? null : exchange.route().name();
                case COOKIE -> cookie(exchange.request().headers().get("cookie"), name);
            };
        }

        /** The value of cookie {@code name} in a {@code Cookie} header (RFC 6265 section 4.2), or {@code null}. */
        static String cookie(String header, String name) {
            if (header == null) {
                return null;
            }
            int i = 0;
            int n = header.length();
            while (i < n) {
                while (i < n && (header.charAt(i) == ' ' || header.charAt(i) == ';')) {
                    i++;
                }
                int end = header.indexOf(';', i);
                if (end < 0) {
                    end = n;
                }
                int eq = header.indexOf('=', i);
                if (eq > 0 && eq < end && eq - i == name.length() && header.regionMatches(i, name, 0, name.length())) {
                    String v = header.substring(eq + 1, end).strip();
                    if (v.length() >= 2 && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
                        v = v.substring(1, v.length() - 1);
                    }
                    return v.isEmpty() ? null : v;
                }
                i = end + 1;
            }
            return null;
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
