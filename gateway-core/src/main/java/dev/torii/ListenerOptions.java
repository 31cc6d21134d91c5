package dev.torii;

/**
 * Settings that belong to one listener rather than to the whole gateway (HTTP, HTTPS and TCP listeners alike):
 * each component is one such setting, and its default is what the listener does when the setting is not given.
 * Immutable; build variants with the {@code with...} methods.
 *
 * <p>Gateway-wide defaults stay in {@link Limits} and the gateway's builder; a listener's options override them for
 * the connections that listener accepts.
 *
 * @param maxRequestsPerConnection requests one client connection of this listener may carry (see
 *     {@link Limits#maxRequestsPerConnection()}); 0 (the default) uses the gateway's limit, -1 lifts it for this
 *     listener
 */
public record ListenerOptions(int maxRequestsPerConnection) {
    /** The options of a listener that sets none of its own. */
    public static final ListenerOptions DEFAULTS = new ListenerOptions(0);

    public ListenerOptions {
        if (maxRequestsPerConnection < -1) {
            throw new IllegalArgumentException("maxRequestsPerConnection: " + maxRequestsPerConnection
                    + " (expected: > 0, 0 for the gateway's limit, -1 for none)");
        }
    }

    /** These options with {@code requests} as the listener's request limit per connection (see the component). */
    public ListenerOptions withMaxRequestsPerConnection(int requests) {
        return new ListenerOptions(requests);
    }

    /** The request limit per connection in effect on this listener, given the gateway's {@code limits}; 0 for none. */
    public int maxRequestsPerConnection(Limits limits) {
        return maxRequestsPerConnection == 0
                ? limits.maxRequestsPerConnection()
                : Math.max(0, maxRequestsPerConnection);
    }
}
