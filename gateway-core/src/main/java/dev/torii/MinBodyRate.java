package dev.torii;

import java.time.Duration;
import java.util.Objects;

/**
 * The slowest a client may send a request body (slow POST, the body-side twin of slowloris; nginx's
 * {@code client_body_timeout}, Apache's {@code mod_reqtimeout MinRate}): at least {@code bytes} every {@code per}, once
 * {@code grace} has passed since the request head. Only the time the gateway was asking the client for more counts: while
 * the upstream cannot take the body (backpressure), the client is not to blame. A body below the rate gets {@code 408}
 * (or, once the response started, its connection or HTTP/2 stream reset). Immutable.
 *
 * @param bytes bytes expected every {@code per}; at least 1
 * @param per the measuring window; at least 10 ms
 * @param grace the time after the request head before the rate is measured; 0 or more
 */
public record MinBodyRate(long bytes, Duration per, Duration grace) {
    public MinBodyRate {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes: " + bytes + " (expected: > 0)");
        }
        Objects.requireNonNull(per, "per");
        if (per.compareTo(Duration.ofMillis(10)) < 0) {
            throw new IllegalArgumentException("per: " + per.toMillis() + "ms (expected: >= 10ms)");
        }
        Objects.requireNonNull(grace, "grace");
        if (grace.isNegative()) {
            throw new IllegalArgumentException("grace: " + grace + " (expected: >= 0)");
        }
    }
}
