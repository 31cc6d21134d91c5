package dev.torii;

/**
 * Settings that belong to one listener rather than to the whole gateway (HTTP, HTTPS and TCP listeners alike):
 * each component is one such setting, and its default is what the listener does when the setting is not given.
 * Immutable; build variants with the {@code with...} methods.
 *
 * <p>Gateway-wide defaults stay in {@link Limits} and the gateway's builder; a listener's options override them for
 * the connections that listener accepts.
 *
 * @param pathNormalization how this listener's request paths are normalised, or {@code null} for the gateway-wide
 *     {@link Limits#pathNormalization()} (HTTP and HTTPS listeners; a TCP listener has no paths)
 */
public record ListenerOptions(PathNormalization pathNormalization) {
    /** The options of a listener that sets none of its own. */
    public static final ListenerOptions DEFAULTS = new ListenerOptions(null);

    /**
     * These options with {@code normalization} for this listener's paths in place of the gateway-wide one ({@code
     * null}: the gateway-wide one again).
     */
    public ListenerOptions withPathNormalization(PathNormalization normalization) {
        return new ListenerOptions(normalization);
    }
}
