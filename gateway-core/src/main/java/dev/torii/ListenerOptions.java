package dev.torii;

/**
 * Settings that belong to one listener rather than to the whole gateway (HTTP, HTTPS and TCP listeners alike):
 * each component is one such setting, and its default is what the listener does when the setting is not given.
 * Immutable; build variants with the {@code with...} methods.
 *
 * <p>Gateway-wide defaults stay in {@link Limits} and the gateway's builder; a listener's options override them for
 * the connections that listener accepts.
 *
 * @param sni SNI passthrough routing of a TCP listener ({@link dev.torii.tcp.SniRouting}), or {@code null}
 * @param proxyProtocol the PROXY protocol accepted from trusted peers (HTTP, HTTPS and TCP listeners), or {@code null}
 * @param sendProxyProtocol the PROXY protocol header a TCP listener sends to its backends, or {@code null}: none
 * @param maxConnections the most client connections open at once on this listener, {@code 0} for no limit of its own
 */
public record ListenerOptions(
        dev.torii.tcp.SniRouting sni,
        dev.torii.proxyprotocol.ProxyProtocolAccept proxyProtocol,
        dev.torii.proxyprotocol.ProxyProtocolVersion sendProxyProtocol,
        int maxConnections) {
    /** The options of a listener that sets none of its own. */
    public static final ListenerOptions DEFAULTS = new ListenerOptions(null, null, null, 0);

    public ListenerOptions {
        if (maxConnections < 0) {
            throw new IllegalArgumentException("maxConnections: " + maxConnections + " (expected: >= 0)");
        }
    }

    /**
     * These options with at most {@code maxConnections} client connections open at once on this listener (0: no limit
     * of its own; {@link Limits#maxConnections()} still applies). More are closed at accept.
     */
    public ListenerOptions withMaxConnections(int maxConnections) {
        return new ListenerOptions(sni, proxyProtocol, sendProxyProtocol, maxConnections);
    }

    /**
     * These options with SNI passthrough routing ({@code null}: none). TCP listeners only: the gateway refuses an HTTP
     * listener that has it.
     */
    public ListenerOptions withSni(dev.torii.tcp.SniRouting sni) {
        return new ListenerOptions(sni, proxyProtocol, sendProxyProtocol, maxConnections);
    }

    /** These options accepting the PROXY protocol from trusted peers ({@code null}: not accepted). */
    public ListenerOptions withProxyProtocol(dev.torii.proxyprotocol.ProxyProtocolAccept proxyProtocol) {
        return new ListenerOptions(sni, proxyProtocol, sendProxyProtocol, maxConnections);
    }

    /**
     * These options sending a PROXY protocol header of this version to each backend connection ({@code null}: none).
     * TCP listeners only.
     */
    public ListenerOptions withSendProxyProtocol(dev.torii.proxyprotocol.ProxyProtocolVersion sendProxyProtocol) {
        return new ListenerOptions(sni, proxyProtocol, sendProxyProtocol, maxConnections);
    }
}
