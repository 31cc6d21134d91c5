package dev.torii.route;

import dev.torii.Headers;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The conditions a request must meet for a {@link Route} to apply; every condition given must hold. Immutable.
 *
 * @param host {@code null} for any host, an exact name ({@code api.example.com}) or a suffix wildcard
 *     ({@code *.example.com}, which does not match {@code example.com} itself); compared without port, ignoring case
 * @param pathPrefix the path must start with this; {@code /} matches every path
 * @param methods allowed methods (upper case); empty for any
 * @param headers header name (lower case) to exact value; each must be present with that value
 */
public record RouteMatch(String host, String pathPrefix, Set<String> methods, Map<String, String> headers) {
    public RouteMatch {
        if (host != null) {
            host = host.toLowerCase(Locale.ROOT);
            if (host.isEmpty() || host.indexOf('*', 1) >= 0 || (host.startsWith("*") && !host.startsWith("*."))) {
                throw new IllegalArgumentException(
                        "match host: '" + host + "' (expected: a host name or a wildcard like *.example.com)");
            }
        }
        if (pathPrefix == null || !pathPrefix.startsWith("/")) {
            throw new IllegalArgumentException(
                    "match pathPrefix: '" + pathPrefix + "' (expected: a path starting with /)");
        }
        methods = methods.stream().map(m -> m.toUpperCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        var h = new TreeMap<String, String>();
        headers.forEach((k, v) -> h.put(k.toLowerCase(Locale.ROOT), v));
        headers = Map.copyOf(h);
    }

    /** Matches every request. */
    public static RouteMatch any() {
        return new RouteMatch(null, "/", Set.of(), Map.of());
    }

    /** Whether the host condition is a suffix wildcard. */
    public boolean wildcardHost() {
        return host != null && host.startsWith("*.");
    }

    boolean matchesHost(String requestHost) {
        if (host == null) {
            return true;
        }
        if (requestHost == null) {
            return false;
        }
        if (wildcardHost()) {
            int suffixLength = host.length() - 1; // ".example.com"
            return requestHost.length() > suffixLength
                    && requestHost.regionMatches(true, requestHost.length() - suffixLength, host, 1, suffixLength);
        }
        return host.equalsIgnoreCase(requestHost);
    }

    /** Whether everything but the host matches (the routing table indexes hosts itself). */
    boolean matchesRest(String method, String path, Headers requestHeaders) {
        if (!path.startsWith(pathPrefix)) {
            return false;
        }
        if (!methods.isEmpty() && !methods.contains(method)) {
            return false;
        }
        if (!headers.isEmpty()) {
            for (var e : headers.entrySet()) {
                if (!e.getValue().equals(requestHeaders.get(e.getKey()))) {
                    return false;
                }
            }
        }
        return true;
    }
}
