package dev.torii.ratelimit.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The buckets of one policy in this process: Bucket4j local buckets (lock-free) in a Caffeine cache bounded by
 * {@code maxKeys}, so a flood of distinct keys evicts the least recently used instead of growing memory. A bucket idle
 * for longer than it takes to refill completely is dropped too: a fresh one would answer the same.
 *
 * <p>Cache maintenance runs on the calling thread ({@code executor(Runnable::run)}), so the size bound holds right
 * after each insert rather than whenever a pool thread gets to it. Thread-safe.
 */
public final class LocalBuckets {
    private final Cache<String, Bucket> buckets;
    private final BucketConfiguration configuration;
    private final TimeMeter meter;
    private final LongAdder evicted = new LongAdder();

    /**
     * @param configuration the policy's bandwidths as Bucket4j limits ({@link #configuration})
     * @param idle how long an unused bucket is kept ({@link #idle})
     * @param maxKeys the most keys kept
     * @param nanoTime the clock (a fake one in tests)
     */
    public LocalBuckets(BucketConfiguration configuration, Duration idle, long maxKeys, LongSupplier nanoTime) {
        this.configuration = configuration;
        this.meter = new TimeMeter() {
            @Override
            public long currentTimeNanos() {
                return nanoTime.getAsLong();
            }

            @Override
            public boolean isWallClockBased() {
                return false;
            }
        };
        this.buckets = Caffeine.newBuilder()
                .maximumSize(maxKeys)
                .expireAfterAccess(idle)
                .ticker(nanoTime::getAsLong)
                .executor(Runnable::run)
                .removalListener((String k, Bucket b, RemovalCause cause) -> {
                    if (cause == RemovalCause.SIZE) {
                        evicted.increment();
                    }
                })
                .build();
    }

    /** The Bucket4j configuration of {@code bandwidths}: greedy refill, capacity = burst. */
    public static BucketConfiguration configuration(List<dev.torii.ratelimit.Bandwidth> bandwidths) {
        var b = BucketConfiguration.builder();
        for (var bw : bandwidths) {
            b.addLimit(l -> l.capacity(bw.burst()).refillGreedy(bw.rate(), bw.per()));
        }
        return b.build();
    }

    /** How long a bucket may idle before it is full again whatever happened: the slowest refill plus one period. */
    public static Duration idle(List<dev.torii.ratelimit.Bandwidth> bandwidths) {
        long max = 0;
        for (var bw : bandwidths) {
            double n = (double) bw.per().toNanos() * bw.burst() / bw.rate()
                    + bw.per().toNanos();
            max = Math.max(max, n >= Long.MAX_VALUE / 2 ? Long.MAX_VALUE / 2 : (long) n);
        }
        return Duration.ofNanos(max);
    }

    /** Takes one token of {@code key}'s buckets. */
    public ConsumptionProbe tryConsume(String key) {
        Bucket bucket = buckets.get(key, this::newBucket);
        return bucket.tryConsumeAndReturnRemaining(1);
    }

    private Bucket newBucket(String key) {
        var b = Bucket.builder().withCustomTimePrecision(meter);
        for (var bandwidth : configuration.getBandwidths()) {
            b.addLimit(bandwidth);
        }
        return b.build();
    }

    /** Keys evicted to keep within the bound. */
    public long evicted() {
        return evicted.sum();
    }

    /** Keys held now (after pending maintenance). */
    public long size() {
        buckets.cleanUp();
        return buckets.estimatedSize();
    }
}
