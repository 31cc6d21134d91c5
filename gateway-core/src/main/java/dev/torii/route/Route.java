package dev.torii.route;

import dev.torii.Hook;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A match and what to do with the requests it matches: the upstream to send them to, how to set the upstream
 * {@code Host} header, and the hooks that run for this route only. Immutable; build one with {@link #builder(String)}.
 *
 * @param name a name unique in its routing table, used in logs and metrics
 * @param match the conditions
 * @param upstream the name of the upstream in the same routing table
 * @param hostRewrite {@code null} to send the client's Host unchanged (the default), or the value to send instead
 * @param hostFromEndpoint send the chosen endpoint's {@code host:port} as Host (like nginx's {@code $proxy_host})
 * @param hooks hooks for this route, run after the gateway's global hooks
 */
public record Route(
        String name,
        RouteMatch match,
        String upstream,
        String hostRewrite,
        boolean hostFromEndpoint,
        List<Hook> hooks) {

    public Route {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(match, "match");
        if (upstream == null || upstream.isBlank()) {
            throw new IllegalArgumentException(
                    "route '" + name + "' upstream: '" + upstream + "' (expected: an upstream name)");
        }
        if (hostRewrite != null && hostFromEndpoint) {
            throw new IllegalArgumentException("route '" + name + "': hostRewrite '" + hostRewrite
                    + "' and hostFromEndpoint (expected: at most one)");
        }
        hooks = List.copyOf(hooks);
    }

    /** A builder for a route that matches everything until conditions are added. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Builds a {@link Route}. Not thread-safe. */
    public static final class Builder {
        private final String name;
        private String host;
        private String pathPrefix = "/";
        private final Set<String> methods = new TreeSet<>();
        private final Map<String, String> headers = new TreeMap<>();
        private String upstream;
        private String hostRewrite;
        private boolean hostFromEndpoint;
        private final List<Hook> hooks = new ArrayList<>();

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        /** Matches this host exactly, or {@code *.example.com} for any sub-domain. */
        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder pathPrefix(String pathPrefix) {
            this.pathPrefix = pathPrefix;
            return this;
        }

        /** Adds allowed methods; none means any method. */
        public Builder methods(String... methods) {
            this.methods.addAll(List.of(methods));
            return this;
        }

        /** Requires header {@code name} with exactly {@code value}. */
        public Builder header(String name, String value) {
            headers.put(name, value);
            return this;
        }

        public Builder upstream(String upstream) {
            this.upstream = upstream;
            return this;
        }

        /** Sends {@code host} upstream as the Host header instead of the client's. */
        public Builder rewriteHost(String host) {
            this.hostRewrite = host;
            return this;
        }

        /** Sends the chosen endpoint's {@code host:port} upstream as the Host header. */
        public Builder hostFromEndpoint() {
            this.hostFromEndpoint = true;
            return this;
        }

        public Builder hook(Hook hook) {
            hooks.add(Objects.requireNonNull(hook, "hook"));
            return this;
        }

        public Route build() {
            return new Route(
                    name,
                    new RouteMatch(host, pathPrefix, methods, headers),
                    upstream,
                    hostRewrite,
                    hostFromEndpoint,
                    hooks);
        }
    }
}
