package dev.torii.upstream;

/**
 * What an operator sees of one endpoint's health at one moment: the active checks' verdict, the ejection by outlier
 * detection, and the load on it. Immutable; read it from {@link dev.torii.Gateway#upstreamHealth()}.
 *
 * @param upstream the upstream's name
 * @param endpoint the endpoint
 * @param healthy the active checks' verdict (true without active checks)
 * @param ejected whether outlier detection has ejected it now
 * @param ejectedForMillis how long the ejection still lasts, 0 when not ejected
 * @param consecutiveFailures failed attempts in a row (passive)
 * @param ejections ejections that count towards the length of the next one
 * @param inFlight requests in flight to it now, gateway-wide
 */
public record EndpointStatus(
        String upstream,
        Endpoint endpoint,
        boolean healthy,
        boolean ejected,
        long ejectedForMillis,
        int consecutiveFailures,
        int ejections,
        int inFlight) {
    /** Whether the load balancer may pick it (healthy and not ejected). */
    public boolean available() {
        return healthy && !ejected;
    }
}
