package dev.torii;

import dev.torii.route.Route;
import dev.torii.upstream.Endpoint;
import java.net.InetSocketAddress;
import java.util.concurrent.Executor;

/**
 * One request and its response as they pass through the gateway. Hooks see it in each {@link Phase}; what they may
 * change depends on the phase, and a call outside its phases throws {@link IllegalStateException} naming the current
 * phase and the allowed ones.
 *
 * <p>Not thread-safe: an exchange is confined to the event loop of its client connection ({@link #executor()}).
 * Complete asynchronous work there.
 */
public interface Exchange {
    /** The phase running now. */
    Phase phase();

    /** The request head as it will be sent upstream. */
    Request request();

    /** The response head; only in {@link Phase#RESPONSE} and {@link Phase#LOG}. */
    Response response();

    /** The client's address (the TCP peer, not X-Forwarded-For). */
    InetSocketAddress clientAddress();

    /**
     * The name of the listener that accepted the client connection, or {@code null} when the engine does not say
     * (per-listener access lists need it).
     */
    default String listener() {
        return null;
    }

    /** Whether the client connection is TLS. */
    boolean secure();

    /** The client connection's TLS version, cipher suite, SNI name and ALPN protocol; {@code null} without TLS. */
    default TlsInfo tls() {
        return null;
    }

    /** The route that matched; {@code null} in {@link Phase#REQUEST} and when none matched. */
    Route route();

    /** The name of the upstream the request will go to; {@code null} before routing. */
    String upstream();

    /** Sends the request to another upstream of the routing table; {@link Phase#UPSTREAM} only. */
    void useUpstream(String upstreamName);

    /** Sends the request to this endpoint, bypassing load balancing; {@link Phase#UPSTREAM} only. */
    void useEndpoint(Endpoint endpoint);

    /** The value stored under {@code key}, or {@code null}. */
    <T> T get(AttributeKey<T> key);

    /** Stores {@code value} under {@code key} for later phases and hooks; {@code null} removes it. */
    <T> void set(AttributeKey<T> key, T value);

    /** The record of the finished exchange; only in {@link Phase#LOG}. */
    ExchangeLog log();

    /** The event loop that owns this exchange; complete asynchronous work here. */
    Executor executor();
}
