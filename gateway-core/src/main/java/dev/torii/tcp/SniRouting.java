package dev.torii.tcp;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * SNI passthrough for a {@link TcpListener}: the listener reads the server name from the client's TLS ClientHello
 * without terminating TLS, and chooses the upstream by that name. The TLS session stays end to end between the client
 * and the backend; Torii neither holds a key nor sees the plaintext. Immutable.
 *
 * <pre>
 * client ─▶ accept ─▶ read ClientHello (at most maxClientHelloBytes, within clientHelloTimeout; nothing consumed)
 *   ─▶ server name: exact route, else the longest "*.suffix" route, else the listener's upstream (or refused)
 *   ─▶ CONNECT hooks (conn.sni() holds the name; they may still choose another upstream)
 *   ─▶ backend: the ClientHello bytes first, then bytes both ways
 * </pre>
 *
 * <p>A pattern is a lower-case host name ({@code a.example}) or a wildcard {@code *.b.example}, which matches any name
 * with at least one more label in front of {@code b.example} (not {@code b.example} itself). A connection whose name
 * matches no route, that sends no name, or that is not TLS goes to the listener's {@link TcpListener#upstream()},
 * unless {@link #refuseUnknown()}: then it is closed before any hook runs or backend is contacted. A client that sends
 * no complete ClientHello in time, or a longer one, is closed.
 *
 * @param routes server name pattern to upstream name, in the order given
 * @param refuseUnknown whether a name without a route is refused rather than sent to the listener's upstream
 * @param clientHelloTimeout how long a client may take to send its ClientHello
 * @param maxClientHelloBytes the longest ClientHello read (TLS record headers included)
 */
public record SniRouting(
        Map<String, String> routes, boolean refuseUnknown, Duration clientHelloTimeout, int maxClientHelloBytes) {
    /** Default of {@link #clientHelloTimeout()}. */
    public static final Duration DEFAULT_CLIENT_HELLO_TIMEOUT = Duration.ofSeconds(10);

    /** Default of {@link #maxClientHelloBytes()}: a ClientHello is a few hundred bytes to a few KiB. */
    public static final int DEFAULT_MAX_CLIENT_HELLO_BYTES = 64 * 1024;

    public SniRouting {
        Objects.requireNonNull(routes, "routes");
        Map<String, String> copy = new LinkedHashMap<>();
        routes.forEach((pattern, upstream) -> {
            checkPattern(pattern);
            if (upstream == null || upstream.isBlank()) {
                throw new IllegalArgumentException(
                        "sni route '" + pattern + "': upstream '" + upstream + "' (expected: an upstream name)");
            }
            copy.put(pattern, upstream);
        });
        routes = java.util.Collections.unmodifiableMap(copy);
        Objects.requireNonNull(clientHelloTimeout, "clientHelloTimeout");
        if (clientHelloTimeout.isNegative() || clientHelloTimeout.isZero()) {
            throw new IllegalArgumentException("sni clientHelloTimeout: " + clientHelloTimeout + " (expected: > 0)");
        }
        if (maxClientHelloBytes < 512) {
            throw new IllegalArgumentException(
                    "sni maxClientHelloBytes: " + maxClientHelloBytes + " (expected: >= 512)");
        }
    }

    private static void checkPattern(String pattern) {
        String name = pattern == null ? "" : pattern.startsWith("*.") ? pattern.substring(2) : pattern;
        if (name.isEmpty()
                || !name.equals(name.toLowerCase(Locale.ROOT))
                || name.contains("*")
                || name.startsWith(".")
                || name.endsWith(".")
                || name.contains("..")
                || !name.chars().allMatch(c -> c == '.' || c == '-' || c == '_' || Character.isLetterOrDigit(c))) {
            throw new IllegalArgumentException("sni route '" + pattern
                    + "' (expected: a lower-case host name such as a.example, or a wildcard such as *.b.example)");
        }
    }

    /**
     * The upstream for {@code serverName} (as sent, any case; {@code null} when the client sent none): an exact route,
     * else the longest matching wildcard, else {@code fallback}, or {@code null} when {@link #refuseUnknown()}.
     */
    public String upstreamFor(String serverName, String fallback) {
        if (serverName != null) {
            String name = serverName.toLowerCase(Locale.ROOT);
            String exact = routes.get(name);
            if (exact != null) {
                return exact;
            }
            // Longest suffix first: drop one leading label at a time.
            for (int dot = name.indexOf('.'); dot > 0 && dot < name.length() - 1; dot = name.indexOf('.', dot + 1)) {
                String wildcard = routes.get("*" + name.substring(dot));
                if (wildcard != null) {
                    return wildcard;
                }
            }
        }
        return refuseUnknown ? null : fallback;
    }

    /** A builder without routes; unknown names go to the listener's upstream. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link SniRouting}. Not thread-safe. */
    public static final class Builder {
        private final Map<String, String> routes = new LinkedHashMap<>();
        private boolean refuseUnknown;
        private Duration clientHelloTimeout = DEFAULT_CLIENT_HELLO_TIMEOUT;
        private int maxClientHelloBytes = DEFAULT_MAX_CLIENT_HELLO_BYTES;

        private Builder() {}

        /** Sends names matching {@code pattern} ({@code a.example} or {@code *.b.example}) to {@code upstream}. */
        public Builder route(String pattern, String upstream) {
            routes.put(pattern, upstream);
            return this;
        }

        /** See {@link SniRouting#refuseUnknown()}; default false. */
        public Builder refuseUnknown(boolean refuseUnknown) {
            this.refuseUnknown = refuseUnknown;
            return this;
        }

        /** See {@link SniRouting#clientHelloTimeout()}; default {@link #DEFAULT_CLIENT_HELLO_TIMEOUT}. */
        public Builder clientHelloTimeout(Duration clientHelloTimeout) {
            this.clientHelloTimeout = clientHelloTimeout;
            return this;
        }

        /** See {@link SniRouting#maxClientHelloBytes()}; default {@link #DEFAULT_MAX_CLIENT_HELLO_BYTES}. */
        public Builder maxClientHelloBytes(int maxClientHelloBytes) {
            this.maxClientHelloBytes = maxClientHelloBytes;
            return this;
        }

        public SniRouting build() {
            return new SniRouting(routes, refuseUnknown, clientHelloTimeout, maxClientHelloBytes);
        }
    }
}
