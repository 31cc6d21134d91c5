package dev.torii.server.config;

import dev.torii.ErrorResponder;
import dev.torii.Hook;
import dev.torii.ratelimit.RateLimitPolicy;
import dev.torii.ratelimit.RateLimits;
import dev.torii.ratelimit.RedisStore;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The rate limits of a configuration: every policy (the named ones of {@code rateLimits:} and the inline ones of
 * routes and of the top-level {@code rateLimit:}), which of them apply to every request and which to each route, and
 * the Redis server of {@code store: redis} policies. Immutable; {@link #newRateLimits()} makes the running limiters.
 *
 * @param policies every policy by name
 * @param global the policies checked for every request, before routing, in order
 * @param routes per route name, the policies checked once the route matched, in order
 * @param redis the {@code redis:} section, if any
 * @param listeners per listener name (http, https or tcp), the policies checked for each request (or tcp connection)
 *     of that listener, in order, after the global ones
 */
public record RateLimitSettings(
        Map<String, RateLimitPolicy> policies,
        List<String> global,
        Map<String, List<String>> routes,
        Optional<RedisSettings> redis,
        Map<String, List<String>> listeners) {

    public RateLimitSettings {
        listeners = Map.copyOf(listeners);
        policies = Map.copyOf(policies);
        global = List.copyOf(global);
        routes = Map.copyOf(routes);
        Objects.requireNonNull(redis, "redis");
    }

    /** No rate limits. */
    public static RateLimitSettings none() {
        return new RateLimitSettings(Map.of(), List.of(), Map.of(), Optional.empty(), Map.of());
    }

    /**
     * The {@code redis:} section: where the Redis server of {@code store: redis} policies is.
     *
     * @param address {@code host:port} or a Lettuce URI ({@code redis://}, {@code rediss://},
     *     {@code redis-sentinel://host:port,host:port#master})
     * @param password the password, or {@code null}
     * @param database the database number
     * @param keyPrefix the prefix of every key written
     */
    public record RedisSettings(String address, String password, int database, String keyPrefix) {
        public RedisSettings {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(keyPrefix, "keyPrefix");
        }

        /** A store for these settings (nothing connects until it is used). */
        public RedisStore newStore() {
            var b = RedisStore.builder().address(address).database(database).keyPrefix(keyPrefix);
            if (password != null) {
                b.password(password);
            }
            return b.build();
        }
    }

    /** Whether any policy is attached or defined. */
    public boolean inUse() {
        return !policies.isEmpty();
    }

    /** The running limiters of every policy, the Redis ones sharing one store. Close it to close the store. */
    public RateLimits newRateLimits() {
        boolean needsRedis = policies.values().stream().anyMatch(p -> p.store() == RateLimitPolicy.Store.REDIS);
        RedisStore store = needsRedis ? redis.orElseThrow().newStore() : null;
        return RateLimits.of(policies.values(), store);
    }

    /** The gateway-wide hooks of {@link #global()}. */
    public List<Hook> globalHooks(RateLimits limits, ErrorResponder responder) {
        return limits.hooks(global, responder);
    }

    /** The gateway-wide hooks enforcing each listener's policies on that listener only ({@link #listeners()}). */
    public List<Hook> listenerHooks(RateLimits limits, ErrorResponder responder) {
        List<Hook> hooks = new ArrayList<>();
        listeners.forEach((listener, names) -> hooks.addAll(limits.listenerHooks(listener, names, responder)));
        return hooks;
    }

    /** {@code table} with each route's rate-limit hooks put before the route's other hooks. */
    public RoutingTable withRouteHooks(RoutingTable table, RateLimits limits, ErrorResponder responder) {
        if (routes.isEmpty()) {
            return table;
        }
        RoutingTable.Builder b = RoutingTable.builder();
        table.upstreams().values().forEach(b::upstream);
        for (Route r : table.routes()) {
            List<String> names = routes.getOrDefault(r.name(), List.of());
            if (names.isEmpty()) {
                b.route(r);
                continue;
            }
            List<Hook> hooks = new ArrayList<>(limits.hooks(names, responder));
            hooks.addAll(r.hooks());
            b.route(r.withHooks(hooks));
        }
        return b.build();
    }
}
