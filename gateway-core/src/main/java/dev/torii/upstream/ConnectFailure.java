package dev.torii.upstream;

import java.util.Locale;

/**
 * Why a connect to an upstream endpoint failed, as counted in {@link UpstreamPoolStats#connectsFailed()} and tagged
 * {@code reason} on {@code torii_upstream_connects_total}. A closed set, so the series stay bounded.
 */
public enum ConnectFailure {
    /** The endpoint answered the SYN with a RST: nothing listens on the port. */
    REFUSED,
    /** No TCP connection within {@code connectTimeout}, or (HTTP/2) no SETTINGS from the peer within it. */
    TIMEOUT,
    /** The TLS handshake failed or did not finish within {@code connectTimeout}, or the peer refused h2 by ALPN. */
    TLS,
    /** The endpoint's name did not resolve. */
    DNS,
    /** The peer reset or closed the connection while it was being set up. */
    RESET,
    /** Anything else (no route to host, network unreachable, ...). */
    OTHER;

    /** The metric tag: the lower-case name ({@code refused}, {@code timeout}, ...). */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
