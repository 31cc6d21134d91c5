package dev.torii.dns.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.torii.dns.DnsRateLimit;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import java.net.InetAddress;
import java.time.Duration;

/**
 * One Bucket4j token bucket per client address, in a Caffeine map bounded by {@link DnsRateLimit#maxClients()} and
 * forgetting a client a minute after its last query (a bucket that has been idle that long is full again anyway, for
 * any period up to a minute). Thread-safe and lock-free on the hot path.
 */
public final class ClientLimiter {
    private final Bandwidth bandwidth;
    private final Cache<InetAddress, Bucket> buckets;

    public ClientLimiter(DnsRateLimit limit) {
        this.bandwidth = Bandwidth.builder()
                .capacity(limit.burst())
                .refillGreedy(limit.rate(), limit.per())
                .build();
        this.buckets = Caffeine.newBuilder()
                .maximumSize(limit.maxClients())
                .expireAfterAccess(Duration.ofMinutes(1).plus(limit.per()))
                .executor(Runnable::run)
                .build();
    }

    /** Takes one token from {@code client}'s bucket; false when it is empty. */
    public boolean tryAcquire(InetAddress client) {
        return buckets.get(client, this::newBucket).tryConsume(1);
    }

    private Bucket newBucket(InetAddress client) {
        return Bucket.builder().addLimit(bandwidth).build();
    }

    /** How many clients are tracked now (approximately). */
    public long clients() {
        return buckets.estimatedSize();
    }
}
