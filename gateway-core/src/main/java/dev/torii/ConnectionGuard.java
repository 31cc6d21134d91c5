package dev.torii;

import java.net.InetSocketAddress;

/**
 * Decides at accept whether a client connection may stay: before TLS, HTTP parsing or a TCP backend, so a refused
 * client costs the gateway one accept and one close. IP lists and per-client connection limits are guards.
 *
 * <p>Called on the event loop that accepted the connection: implementations must be thread-safe and must not block.
 */
public interface ConnectionGuard {
    /**
     * Whether the connection from {@code client} to listener {@code listener} is admitted.
     *
     * @param listener the name of the listener (http, https or tcp) that accepted it
     * @param client the client's socket address
     */
    boolean admit(String listener, InetSocketAddress client);

    /** An admitted connection closed (for guards that count connections); called once per admitted connection. */
    default void closed(String listener, InetSocketAddress client) {}

    /**
     * Why this guard refuses a connection, as the {@code reason} tag of the refused-connections counter
     * ({@code torii_guard_connections_refused_total}), e.g. {@code max_connections_per_client}; guards that share a
     * reason are counted together.
     */
    default String reason() {
        return "guard";
    }

    /** Connections this guard refused since it was made (0 for a guard that does not count). Thread-safe. */
    default long refused() {
        return 0;
    }
}
