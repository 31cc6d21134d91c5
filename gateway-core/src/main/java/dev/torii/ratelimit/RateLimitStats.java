package dev.torii.ratelimit;

/**
 * A snapshot of one policy's counters since its {@link RateLimiter} was made. Immutable.
 *
 * @param policy the policy's name
 * @param allowed requests that got a token
 * @param limited requests refused with 429
 * @param shadowLimited requests a {@code shadow} policy would have refused (and let through)
 * @param evicted keys whose buckets were dropped to keep within {@code maxKeys} (a key flood shows here)
 * @param keys keys with a bucket in this process now
 * @param storeFailures Redis calls that failed or timed out
 * @param storeRejected requests refused with 503 because Redis failed and the policy fails closed
 * @param storeAvailable whether the last Redis call succeeded ({@code true} for a local policy)
 */
public record RateLimitStats(
        String policy,
        long allowed,
        long limited,
        long shadowLimited,
        long evicted,
        long keys,
        long storeFailures,
        long storeRejected,
        boolean storeAvailable) {}
