package dev.torii.route;

import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;

/**
 * When a route's request is sent again, to another endpoint of its upstream. Only idempotent requests (GET, HEAD,
 * OPTIONS, TRACE, PUT, DELETE) without a request body are retried (the gateway streams bodies and keeps no copy), never
 * once a response head went to the client, and never for an endpoint a hook chose. Each retry goes to another endpoint
 * than the attempt before it when the upstream has more than one. Immutable.
 *
 * <p>The retry budget (Envoy's {@code retry_budget}) keeps retries from multiplying an outage: a retry starts only
 * while the upstream's exchanges in retry are fewer than {@code budgetPercent} % of its requests in flight, or fewer
 * than {@code budgetMinConcurrent}, whichever is more. A retry the budget refuses fails with the attempt's own error.
 *
 * @param attempts the most attempts in all, the first one included (1-10; 1 means no retry)
 * @param onConnectFailure retry a refused, failed or timed-out connect ({@code connect-failure})
 * @param onReset retry when the upstream closed or reset the connection before a response head ({@code reset})
 * @param onStatuses retry on these response statuses (each 502, 503 or 504), the response being dropped unread
 * @param perTryTimeout how long one attempt may wait for its response head before it is abandoned and retried
 *     (a {@code 504} when no attempt is left), or null for the upstream's {@code responseTimeout}
 * @param budgetPercent the share of the upstream's requests in flight that may be retries at once (0-100)
 * @param budgetMinConcurrent retries allowed at once however few requests are in flight (&gt;= 0)
 */
public record RetryPolicy(
        int attempts,
        boolean onConnectFailure,
        boolean onReset,
        Set<Integer> onStatuses,
        Duration perTryTimeout,
        int budgetPercent,
        int budgetMinConcurrent) {

    /** The retryable statuses. */
    public static final Set<Integer> RETRYABLE_STATUSES = Set.of(502, 503, 504);

    public RetryPolicy {
        if (attempts < 1 || attempts > 10) {
            throw new IllegalArgumentException("attempts: " + attempts + " (expected: 1-10)");
        }
        onStatuses = Set.copyOf(new TreeSet<>(onStatuses));
        for (int s : onStatuses) {
            if (!RETRYABLE_STATUSES.contains(s)) {
                throw new IllegalArgumentException("on: " + s + " (expected: connect-failure, reset, 502, 503, 504)");
            }
        }
        if (perTryTimeout != null && (perTryTimeout.isNegative() || perTryTimeout.isZero())) {
            throw new IllegalArgumentException("perTryTimeout: " + perTryTimeout + " (expected: > 0)");
        }
        if (budgetPercent < 0 || budgetPercent > 100) {
            throw new IllegalArgumentException("percent: " + budgetPercent + " (expected: 0-100)");
        }
        if (budgetMinConcurrent < 0) {
            throw new IllegalArgumentException("minConcurrent: " + budgetMinConcurrent + " (expected: >= 0)");
        }
    }

    /**
     * {@code attempts} attempts on connect failures, resets, 502, 503 and 504, the upstream's response timeout per try,
     * and Envoy's default budget (20 %, at least 3).
     */
    public static RetryPolicy of(int attempts) {
        return new RetryPolicy(attempts, true, true, RETRYABLE_STATUSES, null, 20, 3);
    }

    /** This policy retrying only on {@code statuses} among the statuses (connect failures and resets as before). */
    public RetryPolicy onStatuses(Set<Integer> statuses) {
        return new RetryPolicy(
                attempts, onConnectFailure, onReset, statuses, perTryTimeout, budgetPercent, budgetMinConcurrent);
    }

    /** This policy with {@code perTryTimeout}. */
    public RetryPolicy perTryTimeout(Duration perTryTimeout) {
        return new RetryPolicy(
                attempts, onConnectFailure, onReset, onStatuses, perTryTimeout, budgetPercent, budgetMinConcurrent);
    }

    /** This policy with another budget. */
    public RetryPolicy budget(int percent, int minConcurrent) {
        return new RetryPolicy(attempts, onConnectFailure, onReset, onStatuses, perTryTimeout, percent, minConcurrent);
    }

    /** How many retries the budget allows with {@code inFlight} requests in flight. */
    public int budget(int inFlight) {
        return Math.max(budgetMinConcurrent, (int) ((long) inFlight * budgetPercent / 100));
    }
}
