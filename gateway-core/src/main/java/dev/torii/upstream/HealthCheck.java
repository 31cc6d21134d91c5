package dev.torii.upstream;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Active health checks of an {@link Upstream}'s endpoints: every {@code interval} (plus up to {@code jitter} at
 * random) each endpoint is sent {@code GET path} on a connection of its own (not a pooled one) that must answer with
 * one of {@code expectedStatuses} within {@code timeout}. After {@code unhealthyThreshold} failed checks in a row an
 * endpoint is marked unhealthy and the load balancer skips it; after {@code healthyThreshold} passed checks in a row it
 * is healthy again (and an ejection by {@link OutlierDetection} ends). Endpoints start healthy. Immutable.
 *
 * <p>A check without a {@code path} ({@link #tcp()}) is a TCP connect check (Envoy's {@code tcp_health_check}, HAProxy's
 * plain {@code check}): it passes when the connection (and the TLS handshake, for a TLS upstream) completes within
 * {@code timeout}. It is the check for the upstreams of TCP listeners, whose endpoints may speak any protocol.
 *
 * @param path the request target, starting with {@code /}; {@code null} for a TCP connect check
 * @param expectedStatuses the statuses that pass (non-empty, each 100-599)
 * @param host the {@code Host} header sent, or null for the endpoint's {@code host:port}
 * @param interval the time between two checks of one endpoint
 * @param timeout how long a check (connect, request and response head) may take, at most {@code interval}
 * @param healthyThreshold passed checks in a row that make an unhealthy endpoint healthy
 * @param unhealthyThreshold failed checks in a row that make a healthy endpoint unhealthy
 * @param jitter a random delay of up to this much added to each interval (zero for none), so the checks of many
 *     gateways do not arrive together
 */
public record HealthCheck(
        String path,
        Set<Integer> expectedStatuses,
        String host,
        Duration interval,
        Duration timeout,
        int healthyThreshold,
        int unhealthyThreshold,
        Duration jitter) {

    public HealthCheck {
        if (path != null && (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ' || c == 0x7f))) {
            throw new IllegalArgumentException(
                    "path: '" + path + "' (expected: a request target starting with /, no spaces)");
        }
        expectedStatuses = Set.copyOf(new TreeSet<>(expectedStatuses));
        if (expectedStatuses.isEmpty()) {
            throw new IllegalArgumentException("expectedStatuses: [] (expected: at least one status)");
        }
        for (int s : expectedStatuses) {
            if (s < 100 || s > 599) {
                throw new IllegalArgumentException("expectedStatuses: " + s + " (expected: 100-599)");
            }
        }
        if (host != null && (host.isBlank() || host.chars().anyMatch(c -> c <= ' ' || c == 0x7f))) {
            throw new IllegalArgumentException("host: '" + host + "' (expected: a host name, no spaces)");
        }
        requirePositive("interval", interval);
        requirePositive("timeout", timeout);
        if (timeout.compareTo(interval) > 0) {
            throw new IllegalArgumentException(
                    "timeout: " + timeout + " (expected: at most the time between checks, " + interval + ")");
        }
        if (healthyThreshold < 1) {
            throw new IllegalArgumentException("healthyThreshold: " + healthyThreshold + " (expected: > 0)");
        }
        if (unhealthyThreshold < 1) {
            throw new IllegalArgumentException("unhealthyThreshold: " + unhealthyThreshold + " (expected: > 0)");
        }
        Objects.requireNonNull(jitter, "jitter");
        if (jitter.isNegative()) {
            throw new IllegalArgumentException("jitter: " + jitter + " (expected: >= 0)");
        }
    }

    private static void requirePositive(String what, Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("" + what + ": " + d + " (expected: > 0)");
        }
    }

    /** {@code GET path} every 5 s, timeout 2 s, 200-399 passes, 2 to become healthy, 3 to become unhealthy, 1 s jitter. */
    public static HealthCheck of(String path) {
        return new HealthCheck(
                path,
                statusRange(200, 399),
                null,
                Duration.ofSeconds(5),
                Duration.ofSeconds(2),
                2,
                3,
                Duration.ofSeconds(1));
    }

    /** A TCP connect check every 5 s, timeout 2 s, 2 to become healthy, 3 to become unhealthy, 1 s jitter. */
    public static HealthCheck tcp() {
        return new HealthCheck(
                null,
                statusRange(200, 399),
                null,
                Duration.ofSeconds(5),
                Duration.ofSeconds(2),
                2,
                3,
                Duration.ofSeconds(1));
    }

    /** Whether this is a TCP connect check (no request is sent). */
    public boolean connectOnly() {
        return path == null;
    }

    /** This check with {@code interval}, {@code timeout} and no jitter: handy in tests. */
    public HealthCheck every(Duration interval, Duration timeout) {
        return new HealthCheck(
                path, expectedStatuses, host, interval, timeout, healthyThreshold, unhealthyThreshold, Duration.ZERO);
    }

    /** This check with other thresholds. */
    public HealthCheck thresholds(int healthy, int unhealthy) {
        return new HealthCheck(path, expectedStatuses, host, interval, timeout, healthy, unhealthy, jitter);
    }

    /** The statuses {@code from} to {@code to}, both included. */
    public static Set<Integer> statusRange(int from, int to) {
        Set<Integer> s = new TreeSet<>();
        for (int i = from; i <= to; i++) {
            s.add(i);
        }
        return s;
    }
}
