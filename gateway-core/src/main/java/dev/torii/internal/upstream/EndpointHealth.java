package dev.torii.internal.upstream;

import dev.torii.upstream.Endpoint;
import dev.torii.upstream.OutlierDetection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The health of one endpoint of one upstream, shared by every event loop: the passive side (failures in a row, the
 * current ejection and how many came before it) and the active side (the last verdict of the health checks and the
 * run of passed or failed checks behind it). Kept across routing-table swaps for as long as the upstream keeps the
 * endpoint.
 *
 * <p>Thread-safe: the counters of the hot path are plain volatile reads; every change of state (an ejection, a return,
 * an active verdict) happens under the owning {@link UpstreamState}'s lock, so that it is logged exactly once and the
 * ejection cap is checked against a stable count.
 */
final class EndpointHealth {
    private static final Logger log = LoggerFactory.getLogger(EndpointHealth.class);

    final String upstream;
    final Endpoint endpoint;

    /** Failed attempts in a row (passive); reset by a success. */
    volatile int consecutiveFailures;
    /** When the current ejection ends ({@link System#nanoTime} scale), or 0 when not ejected. */
    volatile long ejectedUntil;
    /** Ejections so far that have not decayed: the next one lasts one more {@code baseEjectionTime}. */
    int ejections;
    /** When the last ejection ended, for the decay of {@link #ejections}. */
    long returnedAt;
    /** The active checks' verdict; true until they say otherwise. */
    volatile boolean healthy = true;
    /** Passed (positive) or failed (negative) active checks in a row. Only the checker writes it. */
    int checkRun;

    EndpointHealth(String upstream, Endpoint endpoint) {
        this.upstream = upstream;
        this.endpoint = endpoint;
    }

    /** Whether the load balancer may pick it now: healthy and not ejected (an ejection that ran out ends here). */
    boolean available(long now, UpstreamState owner) {
        if (!healthy) {
            return false;
        }
        long until = ejectedUntil;
        if (until == 0) {
            return true;
        }
        if (now - until < 0) {
            return false;
        }
        owner.ejectionEnded(this, now);
        return true;
    }

    /** Whether an ejection is in force at {@code now}. */
    boolean ejected(long now) {
        long until = ejectedUntil;
        return until != 0 && now - until < 0;
    }

    /** Ends an ejection that ran out. Under the owner's lock. */
    void returned(long now) {
        if (ejectedUntil != 0) {
            ejectedUntil = 0;
            returnedAt = now;
            consecutiveFailures = 0;
            log.info("upstream '{}' endpoint {} returned from ejection", upstream, endpoint);
        }
    }

    /** Ejects it until {@code now + } the ejection time. Under the owner's lock. */
    void eject(long now, OutlierDetection od, String why) {
        ejections++;
        long nanos = od.ejectionNanos(ejections);
        ejectedUntil = now + nanos;
        if (ejectedUntil == 0) {
            ejectedUntil = 1;
        }
        log.warn(
                "upstream '{}' endpoint {} ejected for {} ms after {} failures in a row (last: {}); ejection {}",
                upstream,
                endpoint,
                nanos / 1_000_000,
                consecutiveFailures,
                why,
                ejections);
    }

    /** A success some time after a return lets the ejection time shrink again. Under the owner's lock. */
    void decay(long now, OutlierDetection od) {
        if (ejections > 0
                && ejectedUntil == 0
                && now - returnedAt >= od.baseEjectionTime().toNanos()) {
            ejections--;
            returnedAt = now;
        }
    }

    /** The active checks' verdict changed. Under the owner's lock. */
    void verdict(boolean nowHealthy, String why) {
        if (healthy == nowHealthy) {
            return;
        }
        healthy = nowHealthy;
        if (nowHealthy) {
            log.info("upstream '{}' endpoint {} is healthy again (active checks)", upstream, endpoint);
        } else {
            log.warn("upstream '{}' endpoint {} is unhealthy (active checks: {})", upstream, endpoint, why);
        }
    }
}
