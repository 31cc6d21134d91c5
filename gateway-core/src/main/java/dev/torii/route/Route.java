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
 * @param retry when requests are sent again to another endpoint, or null for the built-in retries only (one retry of
 *     an idempotent request after a failed connect, one on a fresh connection after a stale pooled one)
 */
public record Route(
        String name,
        RouteMatch match,
        String upstream,
        String hostRewrite,
        boolean hostFromEndpoint,
        List<Hook> hooks,
        RetryPolicy retry) {

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

    /** A route without a retry policy (the components before {@code retry}). */
    public Route(
            String name,
            RouteMatch match,
            String upstream,
            String hostRewrite,
            boolean hostFromEndpoint,
            List<Hook> hooks) {
        this(name, match, upstream, hostRewrite, hostFromEndpoint, hooks, null);
    }

    /** This route with {@code hooks} instead of its own (everything else kept, the retry policy too). */
    public Route withHooks(List<Hook> hooks) {
        return new Route(name, match, upstream, hostRewrite, hostFromEndpoint, hooks, retry);
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
        private RetryPolicy retry;

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

        /** When requests are retried (default: the built-in retries only). */
        public Builder retry(RetryPolicy retry) {
            this.retry = retry;
            return this;
        }

        public Route build() {
            return new Route(
                    name,
                    new RouteMatch(host, pathPrefix, methods, headers),
                    upstream,
                    hostRewrite,
                    hostFromEndpoint,
                    hooks,
                    retry);
        }
    }
}
