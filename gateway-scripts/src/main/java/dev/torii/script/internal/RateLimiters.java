package dev.torii.script.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import dev.torii.ratelimit.RateLimitPolicy;
import dev.torii.ratelimit.RateLimiter;
import dev.torii.ratelimit.RateLimits;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.TimeMeter;
import java.time.Duration;

/**
 * The token buckets behind {@code ex.limit(key, {rate, per, burst})}: local Bucket4j buckets, shared by every event
 * loop, kept in a bounded Caffeine cache keyed by plugin, key and limit. A bucket idle for longer than it takes to
 * refill completely is dropped: a fresh one would answer the same. Thread-safe (Bucket4j's local buckets are
 * lock-free).
 */
public final class RateLimiters {
    private record Key(String plugin, String key, long rate, long perNanos, long burst) {}

    private final Cache<Key, Bucket> buckets;
    private final TimeMeter meter;
    private final java.util.function.Supplier<RateLimits> named;

    public RateLimiters(long maxBuckets, TimeSource time) {
        this(maxBuckets, time, RateLimits::empty);
    }

    /** With the gateway's named policies for {@link #tryTakeNamed}, read on each call (null: none yet). */
    public RateLimiters(long maxBuckets, TimeSource time, java.util.function.Supplier<RateLimits> named) {
        this.named = named;
        this.meter = new TimeMeter() {
            @Override
            public long currentTimeNanos() {
                return time.nanos();
            }

            @Override
            public boolean isWallClockBased() {
                return false;
            }
        };
        this.buckets = Caffeine.newBuilder()
                .maximumSize(maxBuckets)
                .ticker(time::nanos)
                .executor(Runnable::run)
                .expireAfter(new Expiry<Key, Bucket>() {
                    @Override
                    public long expireAfterCreate(Key k, Bucket b, long now) {
                        return refillNanos(k);
                    }

                    @Override
                    public long expireAfterUpdate(Key k, Bucket b, long now, long current) {
                        return refillNanos(k);
                    }

                    @Override
                    public long expireAfterRead(Key k, Bucket b, long now, long current) {
                        return refillNanos(k);
                    }
                })
                .build();
    }

    private static long refillNanos(Key k) {
        // Time to refill from empty, plus one period so that a bucket is never dropped while it still matters.
        double n = (double) k.perNanos * k.burst / k.rate + k.perNanos;
        return n >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) n;
    }

    /**
     * Takes one token for {@code key} of {@code plugin}; returns whether there was one.
     *
     * @param rate tokens added per {@code perNanos}; a positive integer
     * @param burst the bucket's capacity; a positive integer
     */
    public boolean tryTake(String plugin, String key, double rate, long perNanos, double burst) {
        if (!(rate >= 1) || rate != Math.rint(rate) || rate > 1e12) {
            throw new IllegalArgumentException("ex.limit rate: " + fmt(rate) + " (expected: an integer >= 1)");
        }
        if (!(burst >= 1) || burst != Math.rint(burst) || burst > 1e12) {
            throw new IllegalArgumentException("ex.limit burst: " + fmt(burst) + " (expected: an integer >= 1)");
        }
        if (perNanos < 1_000_000L) {
            throw new IllegalArgumentException(
                    "ex.limit per: " + perNanos + "ns (expected: at least 1ms, e.g. \"1s\" or \"1m\")");
        }
        var k = new Key(plugin, key, (long) rate, perNanos, (long) burst);
        Bucket b = buckets.get(k, x -> Bucket.builder()
                .withCustomTimePrecision(meter)
                .addLimit(l -> l.capacity(x.burst).refillGreedy(x.rate, Duration.ofNanos(x.perNanos)))
                .build());
        return b.tryConsume(1);
    }

    /**
     * Takes one token for {@code key} from the gateway's named policy {@code policy} (its counters and metrics count
     * it); returns whether the request may go on (a shadow policy always says yes).
     *
     * @param api the script API, for messages ({@code ex.limit})
     */
    public boolean tryTakeNamed(String api, String key, String policy) {
        RateLimits policies = named.get();
        if (policies == null) {
            policies = RateLimits.empty();
        }
        RateLimiter l = policies.get(policy);
        if (l == null) {
            var names = new java.util.TreeSet<String>();
            policies.all().forEach(x -> names.add(x.policy().name()));
            throw new IllegalArgumentException(api + " policy: '" + policy + "' (expected: "
                    + (names.isEmpty() ? "a policy of the rateLimits section; it has none" : "one of " + names) + ")");
        }
        if (l.policy().store() == RateLimitPolicy.Store.REDIS) {
            throw new IllegalArgumentException(api + " policy: '" + policy + "' keeps its buckets in Redis (expected: a"
                    + " local policy; scripts decide synchronously, so attach a Redis policy to a route instead)");
        }
        return l.tryAcquire(key).allowed();
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
