package dev.torii.ratelimit;

import dev.torii.ErrorResponder;
import dev.torii.Hook;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The named rate-limit policies of a gateway, each with its running {@link RateLimiter}, and the one Redis store the
 * Redis-backed ones share. Routes, the gateway and scripts ({@code ex.limit(key, "name")}) refer to policies by name.
 * Immutable once built; thread-safe. {@link #close()} closes the Redis store.
 */
public final class RateLimits implements AutoCloseable {
    private final Map<String, RateLimiter> limiters;
    private final RedisStore store;

    private RateLimits(Map<String, RateLimiter> limiters, RedisStore store) {
        this.limiters = limiters;
        this.store = store;
    }

    /** No policies. */
    public static RateLimits empty() {
        return new RateLimits(Map.of(), null);
    }

    /**
     * Limiters for {@code policies}, the Redis ones on {@code store}.
     *
     * @param store the Redis store, or {@code null} when no policy needs one
     * @throws IllegalArgumentException on a duplicate name, or a Redis policy without a store
     */
    public static RateLimits of(Collection<RateLimitPolicy> policies, RedisStore store) {
        var map = new LinkedHashMap<String, RateLimiter>();
        for (RateLimitPolicy p : policies) {
            var b = RateLimiter.builder(p);
            if (p.store() == RateLimitPolicy.Store.REDIS) {
                if (store == null) {
                    throw new IllegalArgumentException("policy '" + p.name()
                            + "' store: redis (expected: a redis store; set the top-level redis section)");
                }
                b.store(store);
            }
            if (map.putIfAbsent(p.name(), b.build()) != null) {
                throw new IllegalArgumentException("policy '" + p.name() + "' (expected: unique names)");
            }
        }
        if (store != null && map.values().stream().anyMatch(l -> l.policy().store() == RateLimitPolicy.Store.REDIS)) {
            // Connect now, without waiting: the first requests should not spend their storeTimeout on the handshake.
            store.proxyManager();
        }
        return new RateLimits(Map.copyOf(map), store);
    }

    /**
     * Limiters for {@code policies} (a configuration reload) on this instance's Redis store: a policy equal to one of
     * this instance's keeps its limiter, with its buckets (clients keep what they have spent); a new or changed policy
     * gets a new limiter with full buckets. The result shares the store, so only one of the two may be closed: close
     * the newest, and drop this one without closing it.
     *
     * @throws IllegalArgumentException on a duplicate name, or a Redis policy when this instance has no store (the
     *     {@code redis} connection is made at start-up)
     */
    public RateLimits withPolicies(Collection<RateLimitPolicy> policies) {
        return withPolicies(policies, store);
    }

    /**
     * {@link #withPolicies(Collection)} with the Redis policies on {@code store} (a reload that changed the
     * {@code redis} connection): when {@code store} is not this instance's, every Redis policy gets a new limiter on it
     * (the buckets live in Redis: they start from what the new Redis holds), and the local policies are kept as
     * {@link #withPolicies(Collection)} keeps them. The result owns {@code store}; this instance still owns its own,
     * which the caller closes once nothing uses it.
     *
     * @param store the Redis store of the result, or {@code null} when no policy needs one
     * @throws IllegalArgumentException on a duplicate name, or a Redis policy without a store
     */
    public RateLimits withPolicies(Collection<RateLimitPolicy> policies, RedisStore store) {
        var map = new LinkedHashMap<String, RateLimiter>();
        var fresh = new ArrayList<RateLimitPolicy>();
        for (RateLimitPolicy p : policies) {
            RateLimiter old = limiters.get(p.name());
            if (old != null
                    && old.policy().equals(p)
                    && (p.store() != RateLimitPolicy.Store.REDIS || store == this.store)) {
                if (map.putIfAbsent(p.name(), old) != null) {
                    throw new IllegalArgumentException("policy '" + p.name() + "' (expected: unique names)");
                }
            } else {
                fresh.add(p);
            }
        }
        for (RateLimiter l : of(fresh, store).limiters.values()) {
            if (map.putIfAbsent(l.policy().name(), l) != null) {
                throw new IllegalArgumentException("policy '" + l.policy().name() + "' (expected: unique names)");
            }
        }
        return new RateLimits(Map.copyOf(map), store);
    }

    /** The Redis store of the Redis policies, or {@code null} when none was made. */
    public RedisStore store() {
        return store;
    }

    /** The limiter of policy {@code name}, or {@code null}. */
    public RateLimiter get(String name) {
        return limiters.get(name);
    }

    /** Every limiter, in no particular order. */
    public Collection<RateLimiter> all() {
        return limiters.values();
    }

    /**
     * The hooks enforcing policies {@code names}, in order.
     *
     * @throws IllegalArgumentException naming a policy that does not exist
     */
    public List<Hook> hooks(List<String> names, ErrorResponder responder) {
        var hooks = new ArrayList<Hook>(names.size());
        for (String n : names) {
            RateLimiter l = limiters.get(Objects.requireNonNull(n, "name"));
            if (l == null) {
                throw new IllegalArgumentException(
                        "rate limit policy: '" + n + "' (expected: one of " + limiters.keySet() + ")");
            }
            hooks.add(l.hook(responder));
        }
        return hooks;
    }

    /**
     * The global hooks enforcing policies {@code names} on listener {@code listener} only (its requests, or its
     * connections for a tcp listener; see {@link RateLimiter#listenerHook}), in order.
     *
     * @throws IllegalArgumentException naming a policy that does not exist or is keyed by route
     */
    public List<Hook> listenerHooks(String listener, List<String> names, ErrorResponder responder) {
        var hooks = new ArrayList<Hook>(names.size());
        for (String n : names) {
            RateLimiter l = limiters.get(Objects.requireNonNull(n, "name"));
            if (l == null) {
                throw new IllegalArgumentException(
                        "rate limit policy: '" + n + "' (expected: one of " + limiters.keySet() + ")");
            }
            hooks.add(l.listenerHook(listener, responder));
        }
        return hooks;
    }

    /** The counters of every policy as Micrometer meters. */
    public RateLimitMetrics metrics() {
        return new RateLimitMetrics(List.copyOf(limiters.values()));
    }

    /** Closes the Redis store, if any. Blocks briefly; call off event loops. */
    @Override
    public void close() {
        if (store != null) {
            store.close();
        }
    }
}
