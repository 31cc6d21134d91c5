package dev.torii.tcp;

import dev.torii.AttributeKey;
import dev.torii.upstream.Endpoint;
import java.net.InetSocketAddress;
import java.util.concurrent.Executor;

/**
 * One client connection accepted by a {@link TcpListener}, as {@link dev.torii.Hook#onConnect} hooks see it before a
 * backend is chosen. A hook may choose the backend ({@link #useUpstream}, {@link #useEndpoint}) and then proceed, or
 * reject the client ({@link ConnectResult#reject()}).
 *
 * <p>Not thread-safe: a connection is confined to its event loop ({@link #executor()}); complete asynchronous work
 * there. The backend choice only counts while CONNECT hooks run; later calls throw {@link IllegalStateException}.
 */
public interface Connection {
    /** The name of the listener that accepted the connection. */
    String listener();

    /** The client's address (the TCP peer). */
    InetSocketAddress clientAddress();

    /** The local address the client connected to. */
    InetSocketAddress localAddress();

    /**
     * The server name the client sent in its TLS ClientHello (lower case), or {@code null}: the listener has no
     * {@link SniRouting}, the client sent no name, or it did not speak TLS. Read without terminating TLS.
     */
    default String sni() {
        return null;
    }

    /** The upstream the connection will go to: the listener's, unless a hook chose another. */
    String upstream();

    /** The endpoint a hook chose with {@link #useEndpoint}, or {@code null} (load balancing decides). */
    Endpoint endpoint();

    /**
     * Sends the connection to another upstream of the routing table (load balanced over its endpoints); clears an
     * endpoint chosen before.
     *
     * @throws IllegalArgumentException when the routing table has no upstream {@code upstreamName}
     */
    void useUpstream(String upstreamName);

    /** Sends the connection to this endpoint, bypassing load balancing (connect timeout: the upstream's). */
    void useEndpoint(Endpoint endpoint);

    /** The value stored under {@code key}, or {@code null}. */
    <T> T get(AttributeKey<T> key);

    /** Stores {@code value} under {@code key} for later hooks; {@code null} removes it. */
    <T> void set(AttributeKey<T> key, T value);

    /** The event loop that owns this connection; complete asynchronous work here. */
    Executor executor();
}
