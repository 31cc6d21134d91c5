package dev.torii;

/**
 * A point in an exchange where hooks run, in this order: {@link #REQUEST}, {@link #UPSTREAM}, {@link #RESPONSE},
 * {@link #LOG}. {@link #CONNECT} belongs to TCP listeners.
 *
 * <pre>
 * headers decoded ─▶ REQUEST ─▶ route match ─▶ UPSTREAM ─▶ upstream (or error) response head ─▶ RESPONSE
 *                       │                         │                                             │
 *                       └───── respond ───────────┴──────────────────────────────────────────▶ body relayed
 *                                                                         exchange finished ─▶ LOG
 * </pre>
 */
public enum Phase {
    /** A TCP connection was accepted, before a backend is chosen. */
    CONNECT,
    /** Request headers are decoded, before routing. Hooks may respond or change path, query and headers. */
    REQUEST,
    /** A route matched, before the endpoint is resolved. Hooks may respond, change headers or the upstream. */
    UPSTREAM,
    /** The response head (from the upstream or an error) is ready. Hooks may change status and headers. */
    RESPONSE,
    /** The exchange finished (completed, failed or aborted). Read-only. */
    LOG
}
