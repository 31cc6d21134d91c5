package dev.torii.ratelimit;

/**
 * The answer of a {@link RateLimiter} for one request. Immutable.
 *
 * @param outcome what happened
 * @param remaining tokens left in the tightest bucket after this request (0 when refused)
 * @param retryAfterNanos when refused, how long until a token is back; else 0
 * @param bandwidth the bandwidth that refused, or the policy's first when allowed
 */
public record RateLimitDecision(Outcome outcome, long remaining, long retryAfterNanos, Bandwidth bandwidth) {
    /** The kinds of answers. */
    public enum Outcome {
        /** A token was taken. */
        ALLOWED,
        /** No token: refuse with 429. */
        LIMITED,
        /** No token, but the policy is in shadow mode: let through (counted and logged). */
        SHADOW_LIMITED,
        /** The Redis store failed and the policy fails closed: refuse with 503. */
        STORE_UNAVAILABLE
    }

    /** Whether the request may go on ({@link Outcome#ALLOWED} or {@link Outcome#SHADOW_LIMITED}). */
    public boolean allowed() {
        return outcome == Outcome.ALLOWED || outcome == Outcome.SHADOW_LIMITED;
    }

    /** {@link #retryAfterNanos()} rounded up to whole seconds, at least 1: {@code Retry-After} and {@code t}. */
    public long retryAfterSeconds() {
        return Math.max(1, (retryAfterNanos + 999_999_999L) / 1_000_000_000L);
    }
}
