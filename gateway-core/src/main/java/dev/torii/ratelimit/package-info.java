/**
 * Rate limits: {@link dev.torii.ratelimit.RateLimitPolicy policies} (a key, one or more token-bucket bandwidths,
 * shadow mode, a local or Redis store) run by {@link dev.torii.ratelimit.RateLimiter}s, which enforce them as REQUEST
 * hooks answering {@link dev.torii.ProxyError#RATE_LIMITED} with {@code Retry-After} and the IETF {@code RateLimit}
 * fields. Buckets are Bucket4j's; the local ones live in a bounded Caffeine cache, the shared ones in Redis through
 * Lettuce, asynchronously.
 */
package dev.torii.ratelimit;
