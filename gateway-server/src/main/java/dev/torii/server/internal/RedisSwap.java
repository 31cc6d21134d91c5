package dev.torii.server.internal;

import dev.torii.ratelimit.RateLimitPolicy;
import dev.torii.ratelimit.RateLimits;
import dev.torii.ratelimit.RedisStore;
import dev.torii.server.config.RateLimitSettings;
import dev.torii.server.config.ServerConfig;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rate limits a configuration reload installs, with the Redis connection they need: the running one when the
 * top-level {@code redis} section did not change, else a new one, connected (and so checked) before anything is
 * swapped. {@link #prepare} builds; then the reload either {@link #commit commits} (the replaced connection closes a
 * second later, once exchanges in flight had their answer from it) or {@link #abort aborts} (the new connection
 * closes, the running one stays).
 *
 * <p>Not thread-safe: used by the one thread that reloads.
 */
public final class RedisSwap {
    private static final Logger log = LoggerFactory.getLogger(RedisSwap.class);
    /** How long a reload waits for a new Redis to answer before it refuses the whole reload. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    private final RateLimits limits;
    private final RedisStore opened;
    private final RedisStore replaced;

    private RedisSwap(RateLimits limits, RedisStore opened, RedisStore replaced) {
        this.limits = limits;
        this.opened = opened;
        this.replaced = replaced;
    }

    /**
     * The limits of {@code nextConfig} built from {@code running}: unchanged policies keep their limiters (and
     * buckets); when {@code nextConfig}'s {@code redis} section differs from {@code appliedConfig}'s (the settings the
     * running connection was made from), the Redis policies move to a new connection, opened and checked now. A
     * changed {@code redis} section that only the maintenance switch uses is checked the same way (the switch makes
     * its own connections when the reload is applied).
     *
     * @throws IllegalStateException naming {@code redis.address} when the new Redis does not answer within 5 s (the
     *     running connection stays; nothing was swapped)
     * @throws IllegalArgumentException on a policy the limits refuse
     */
    public static RedisSwap prepare(RateLimits running, ServerConfig appliedConfig, ServerConfig nextConfig) {
        Objects.requireNonNull(running, "running");
        RateLimitSettings applied = appliedConfig.rateLimits();
        RateLimitSettings next = nextConfig.rateLimits();
        boolean needsRedis = next.policies().values().stream().anyMatch(p -> p.store() == RateLimitPolicy.Store.REDIS);
        RedisStore current = running.store();
        boolean changed = !next.redis().equals(applied.redis());
        if (changed
                && !needsRedis
                && next.redis().isPresent()
                && nextConfig.guards().maintenanceRedisKey().isPresent()) {
            try (RedisStore probe = next.redis().get().newStore()) {
                connect(probe);
            }
        }
        if (!needsRedis && current == null || needsRedis && current != null && !changed) {
            return new RedisSwap(running.withPolicies(next.policies().values()), null, null);
        }
        RedisStore opened = null;
        try {
            if (needsRedis) {
                // RateLimitsReader refuses a Redis policy without the redis section: it is there.
                opened = next.redis().orElseThrow().newStore();
                connect(opened);
            }
            RateLimits limits = running.withPolicies(next.policies().values(), opened);
            return new RedisSwap(limits, opened, current);
        } catch (RuntimeException e) {
            if (opened != null) {
                opened.close();
            }
            throw e;
        }
    }

    private static void connect(RedisStore store) {
        try {
            store.connect(CONNECT_TIMEOUT);
        } catch (IllegalStateException e) {
            throw new IllegalStateException(
                    "redis.address: " + e.getMessage() + " (expected: a Redis that answers; the running connection"
                            + " stays)",
                    e);
        }
    }

    /** The limits to install. */
    public RateLimits limits() {
        return limits;
    }

    /**
     * The reload was applied: closes the replaced Redis connection a second later, off this thread (limiters of
     * exchanges already in flight may still be waiting on it; a call it fails then is decided by its policy's
     * {@code onStoreFailure}).
     */
    public void commit() {
        if (replaced == null) {
            return;
        }
        if (opened == null) {
            log.info("rate limits: no policy uses Redis any more; the connection to {} closes", replaced.address());
        } else {
            log.info(
                    "rate limits: Redis {} from now on; the connection to {} closes",
                    opened.address(),
                    replaced.address());
        }
        CompletableFuture.runAsync(
                replaced::close, CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS, r -> Thread.ofVirtual()
                        .name("torii-redis-close")
                        .start(r)));
    }

    /** The reload was refused after {@link #prepare}: closes the connection it opened. Blocks briefly. */
    public void abort() {
        if (opened != null) {
            opened.close();
        }
    }
}
