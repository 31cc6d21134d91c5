package dev.torii.route;

import dev.torii.Headers;
import dev.torii.upstream.Upstream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The routes and upstreams a gateway serves, as one immutable value. A gateway swaps its table atomically
 * ({@link dev.torii.Gateway#routingTable(RoutingTable)}); exchanges in flight finish on the table they started with.
 *
 * <p>Routes are tried in the order they were added and the first that matches wins, as in Envoy. To keep that cheap
 * with many hosts, the table precomputes for each exact host the routes that could apply to it (that host's, the
 * matching wildcards' and the host-less ones, still in order), so a lookup scans only those.
 *
 * <p>Thread-safe (immutable).
 */
public final class RoutingTable {
    private static final RoutingTable EMPTY = new RoutingTable(List.of(), Map.of());

    private final List<Route> routes;
    private final Map<String, Upstream> upstreams;
    private final Map<String, Route[]> byExactHost;
    private final Route[] otherHosts;

    private RoutingTable(List<Route> routes, Map<String, Upstream> upstreams) {
        this.routes = List.copyOf(routes);
        this.upstreams = Map.copyOf(upstreams);
        var exactHosts = new HashMap<String, List<Route>>();
        for (Route r : routes) {
            String h = r.match().host();
            if (h != null && !r.match().wildcardHost()) {
                exactHosts.putIfAbsent(h, new ArrayList<>());
            }
        }
        for (var e : exactHosts.entrySet()) {
            for (Route r : routes) {
                if (r.match().matchesHost(e.getKey())) {
                    e.getValue().add(r);
                }
            }
        }
        var index = new HashMap<String, Route[]>();
        exactHosts.forEach((h, list) -> index.put(h, list.toArray(Route[]::new)));
        this.byExactHost = index;
        this.otherHosts = routes.stream()
                .filter(r -> r.match().host() == null || r.match().wildcardHost())
                .toArray(Route[]::new);
    }

    /** A table with no routes and no upstreams: every request gets NO_ROUTE. */
    public static RoutingTable empty() {
        return EMPTY;
    }

    /** A builder; {@link Builder#build()} checks that every route's upstream exists and names are unique. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The first route that matches, or {@code null}.
     *
     * @param method the request method (upper case)
     * @param host the requested host without port, or {@code null}
     * @param path the request path
     * @param headers the request headers
     */
    public Route match(String method, String host, String path, Headers headers) {
        Route[] candidates = host == null ? null : byExactHost.get(host.toLowerCase(Locale.ROOT));
        if (candidates != null) {
            for (Route r : candidates) {
                if (r.match().matchesRest(method, path, headers)) {
                    return r;
                }
            }
            return null;
        }
        for (Route r : otherHosts) {
            if (r.match().matchesHost(host) && r.match().matchesRest(method, path, headers)) {
                return r;
            }
        }
        return null;
    }

    /** The routes in matching order. */
    public List<Route> routes() {
        return routes;
    }

    /** The upstream named {@code name}, or {@code null}. */
    public Upstream upstream(String name) {
        return upstreams.get(name);
    }

    /** Every upstream by name. */
    public Map<String, Upstream> upstreams() {
        return upstreams;
    }

    /** Builds a {@link RoutingTable}. Not thread-safe. */
    public static final class Builder {
        private final List<Route> routes = new ArrayList<>();
        private final Map<String, Upstream> upstreams = new LinkedHashMap<>();

        private Builder() {}

        /** Adds a route after the ones already added. */
        public Builder route(Route route) {
            routes.add(Objects.requireNonNull(route, "route"));
            return this;
        }

        /** Adds an upstream; names must be unique. */
        public Builder upstream(Upstream upstream) {
            Objects.requireNonNull(upstream, "upstream");
            if (upstreams.putIfAbsent(upstream.name(), upstream) != null) {
                throw new IllegalArgumentException(
                        "upstream '" + upstream.name() + "': defined twice (expected: unique names)");
            }
            return this;
        }

        public RoutingTable build() {
            var names = new HashMap<String, Route>();
            for (Route r : routes) {
                if (names.putIfAbsent(r.name(), r) != null) {
                    throw new IllegalArgumentException(
                            "route '" + r.name() + "': defined twice (expected: unique names)");
                }
                if (!upstreams.containsKey(r.upstream())) {
                    throw new IllegalArgumentException("route '" + r.name() + "' upstream: '" + r.upstream()
                            + "' (expected one of: " + String.join(", ", upstreams.keySet()) + ")");
                }
            }
            return new RoutingTable(routes, upstreams);
        }
    }
}
