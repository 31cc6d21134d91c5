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
 */
public record ListenerOptions(dev.torii.tcp.SniRouting sni) {
    /** The options of a listener that sets none of its own. */
    public static final ListenerOptions DEFAULTS = new ListenerOptions(null);

    /**
     * These options with SNI passthrough routing ({@code null}: none). TCP listeners only: the gateway refuses an HTTP
     * listener that has it.
     */
    public ListenerOptions withSni(dev.torii.tcp.SniRouting sni) {
        return new ListenerOptions(sni);
    }
}
