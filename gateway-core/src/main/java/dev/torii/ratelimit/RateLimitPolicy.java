package dev.torii.ratelimit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What to limit and how much: a name (used in metrics, logs and the {@code RateLimit-Policy} header), a
 * {@link RateLimitKey key}, one or more {@link Bandwidth bandwidths}, where the buckets live, and whether to enforce.
 * Immutable; build one with {@link #builder(String)}, run it with a {@link RateLimiter}.
 *
 * @param name the policy's name: non-blank, printable ASCII without {@code "} or {@code \}
 * @param key what the policy counts by
 * @param bandwidths at least one; a request needs a token from each
 * @param shadow count and log what would be refused, but let every request through (to try a limit in production)
 * @param store where the buckets live: in this process, or in Redis shared by every gateway
 * @param onStoreFailure what to do when the Redis store does not answer within {@code storeTimeout}
 * @param storeTimeout how long a request waits for the Redis store before {@code onStoreFailure} decides
 * @param maxKeys how many keys' buckets this process keeps (the least recently used go first); bounds memory under a
 *     flood of distinct keys
 */
public record RateLimitPolicy(
        String name,
        RateLimitKey key,
        List<Bandwidth> bandwidths,
        boolean shadow,
        Store store,
        StoreFailure onStoreFailure,
        Duration storeTimeout,
        long maxKeys) {

    /** Where a policy's buckets live. */
    public enum Store {
        /** In this process (a bounded cache); each gateway counts on its own. */
        LOCAL,
        /** In Redis through Bucket4j's Lettuce backend; every gateway sharing the Redis shares the limit. */
        REDIS
    }

    /** What a Redis-backed policy does when Redis is slow or down. */
    public enum StoreFailure {
        /** Decide with this process's local buckets (each gateway enforces the limit on its own meanwhile). */
        OPEN,
        /** Refuse with {@link dev.torii.ProxyError#RATE_LIMIT_UNAVAILABLE} (503). */
        CLOSED
    }

    /** The default {@link #maxKeys()}. */
    public static final long DEFAULT_MAX_KEYS = 100_000;

    /** The default {@link #storeTimeout()}. */
    public static final Duration DEFAULT_STORE_TIMEOUT = Duration.ofMillis(50);

    public RateLimitPolicy {
        checkName(name);
        Objects.requireNonNull(key, "key");
        bandwidths = List.copyOf(bandwidths);
        if (bandwidths.isEmpty()) {
            throw new IllegalArgumentException(
                    "policy '" + name + "' bandwidths: none (expected: at least one, e.g. 100 per 1s)");
        }
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(onStoreFailure, "onStoreFailure");
        Objects.requireNonNull(storeTimeout, "storeTimeout");
        if (storeTimeout.isNegative() || storeTimeout.isZero()) {
            throw new IllegalArgumentException("storeTimeout: " + storeTimeout + " (expected: > 0)");
        }
        if (maxKeys <= 0) {
            throw new IllegalArgumentException("maxKeys: " + maxKeys + " (expected: > 0)");
        }
    }

    private static void checkName(String name) {
        if (name == null
                || name.isBlank()
                || !name.chars().allMatch(c -> c >= 32 && c < 127 && c != '"' && c != '\\')) {
            throw new IllegalArgumentException(
                    "name: '" + name + "' (expected: non-blank printable ASCII without '\"' or '\\')");
        }
    }

    /** A builder: key {@code clientIp}, local store, enforcing, {@link #DEFAULT_MAX_KEYS} keys. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Builds a {@link RateLimitPolicy}; {@link #build()} checks the whole combination. Not thread-safe. */
    public static final class Builder {
        private final String name;
        private RateLimitKey key = RateLimitKey.clientIp();
        private final List<Bandwidth> bandwidths = new ArrayList<>();
        private boolean shadow;
        private Store store = Store.LOCAL;
        private StoreFailure onStoreFailure = StoreFailure.OPEN;
        private Duration storeTimeout = DEFAULT_STORE_TIMEOUT;
        private long maxKeys = DEFAULT_MAX_KEYS;

        private Builder(String name) {
            this.name = name;
        }

        /** What to count by (default {@link RateLimitKey#clientIp()}). */
        public Builder key(RateLimitKey key) {
            this.key = Objects.requireNonNull(key, "key");
            return this;
        }

        /** Adds a bandwidth of {@code rate} per {@code per} with a burst of {@code rate}. */
        public Builder limit(long rate, Duration per) {
            return bandwidth(Bandwidth.of(rate, per));
        }

        /** Adds a bandwidth of {@code rate} per {@code per} holding up to {@code burst} tokens. */
        public Builder limit(long rate, Duration per, long burst) {
            return bandwidth(new Bandwidth(rate, per, burst));
        }

        /** Adds a bandwidth. */
        public Builder bandwidth(Bandwidth bandwidth) {
            bandwidths.add(Objects.requireNonNull(bandwidth, "bandwidth"));
            return this;
        }

        /** Count and log, but let every request through. */
        public Builder shadow(boolean shadow) {
            this.shadow = shadow;
            return this;
        }

        /** Where the buckets live (default {@link Store#LOCAL}). */
        public Builder store(Store store) {
            this.store = Objects.requireNonNull(store, "store");
            return this;
        }

        /** What a Redis-backed policy does when Redis fails (default {@link StoreFailure#OPEN}). */
        public Builder onStoreFailure(StoreFailure onStoreFailure) {
            this.onStoreFailure = Objects.requireNonNull(onStoreFailure, "onStoreFailure");
            return this;
        }

        /** How long to wait for Redis (default 50 ms). */
        public Builder storeTimeout(Duration storeTimeout) {
            this.storeTimeout = Objects.requireNonNull(storeTimeout, "storeTimeout");
            return this;
        }

        /** How many keys' buckets to keep in this process (default 100,000). */
        public Builder maxKeys(long maxKeys) {
            this.maxKeys = maxKeys;
            return this;
        }

        /**
         * The policy.
         *
         * @throws IllegalArgumentException naming the first wrong setting and what was expected
         */
        public RateLimitPolicy build() {
            if (store == Store.LOCAL && onStoreFailure == StoreFailure.CLOSED) {
                throw new IllegalArgumentException(
                        "onStoreFailure: closed (expected: only with store redis; a local store cannot fail)");
            }
            return new RateLimitPolicy(name, key, bandwidths, shadow, store, onStoreFailure, storeTimeout, maxKeys);
        }
    }
}
