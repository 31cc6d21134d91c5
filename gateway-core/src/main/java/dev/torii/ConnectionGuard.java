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
}
