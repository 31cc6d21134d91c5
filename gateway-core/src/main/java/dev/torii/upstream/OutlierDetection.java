package dev.torii.upstream;

import java.time.Duration;
import java.util.Objects;

/**
 * Passive health of an {@link Upstream}'s endpoints, judged from the traffic itself (Envoy's outlier detection, nginx's
 * {@code max_fails}/{@code fail_timeout}): after {@code consecutiveFailures} failed attempts in a row on one endpoint
 * (a 5xx response head, a refused or timed-out connect, a reset or a response timeout) the endpoint is ejected, and
 * the load balancer skips it for {@code baseEjectionTime} times the number of times it was ejected (capped at
 * {@code maxEjectionTime}). A success resets the run. At most {@code maxEjectionPercent} of the endpoints are ejected
 * at once (and always at least one may be), so a bad spell cannot eject a whole upstream. Immutable.
 *
 * @param consecutiveFailures failed attempts in a row that eject an endpoint (&gt; 0)
 * @param baseEjectionTime the first ejection's length; the n-th ejection in a row lasts n times this
 * @param maxEjectionTime the longest an ejection lasts (at least {@code baseEjectionTime})
 * @param maxEjectionPercent the share of endpoints that may be ejected at once, 0-100 (at least one endpoint may)
 */
public record OutlierDetection(
        int consecutiveFailures, Duration baseEjectionTime, Duration maxEjectionTime, int maxEjectionPercent) {

    /** 5 failures, 30 s growing to at most 300 s, at most half the endpoints: the values a config starts from. */
    public static final OutlierDetection DEFAULTS =
            new OutlierDetection(5, Duration.ofSeconds(30), Duration.ofSeconds(300), 50);

    public OutlierDetection {
        if (consecutiveFailures < 1) {
            throw new IllegalArgumentException("consecutiveFailures: " + consecutiveFailures + " (expected: > 0)");
        }
        Objects.requireNonNull(baseEjectionTime, "baseEjectionTime");
        Objects.requireNonNull(maxEjectionTime, "maxEjectionTime");
        if (baseEjectionTime.isNegative() || baseEjectionTime.isZero()) {
            throw new IllegalArgumentException("baseEjectionTime: " + baseEjectionTime + " (expected: > 0)");
        }
        if (maxEjectionTime.compareTo(baseEjectionTime) < 0) {
            throw new IllegalArgumentException("maxEjectionTime: " + maxEjectionTime
                    + " (expected: at least the base ejection time, " + baseEjectionTime + ")");
        }
        if (maxEjectionPercent < 0 || maxEjectionPercent > 100) {
            throw new IllegalArgumentException("maxEjectionPercent: " + maxEjectionPercent + " (expected: 0-100)");
        }
    }

    /** How long the {@code times}-th ejection in a row lasts, in nanoseconds. */
    public long ejectionNanos(int times) {
        long base = baseEjectionTime.toNanos();
        long max = maxEjectionTime.toNanos();
        return times <= 0 ? base : Math.min(max, base > max / times ? max : base * times);
    }

    /** How many of {@code endpoints} endpoints may be ejected at once: the percentage, but at least one. */
    public int maxEjected(int endpoints) {
        return Math.max(1, endpoints * maxEjectionPercent / 100);
    }
}
