package dev.torii.internal;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;

/**
 * What differs between the two kinds of client side an {@link ExchangeDriver} serves: an HTTP/1.1 connection (many
 * exchanges in turn, keep-alive, a codec that holds after a WebSocket upgrade request) and an HTTP/2 stream (one
 * exchange, then the stream ends, by a reset when the request side is still open). The driver calls it at the few
 * points where the protocols part ways; everything else (hooks, routing, connect, relay) is protocol-neutral.
 *
 * <p>Not thread-safe: confined to the client channel's event loop, like the driver.
 */
interface ClientAdapter {
    /** Whether the client side is an HTTP/2 stream (a tunnel then takes it as an RFC 8441 stream). */
    boolean http2();

    /** The protocol hooks and the log see for {@code request}. */
    String protocol(HttpRequest request);

    /** Whether the client may send another request on this connection after {@code request}, as it asked. */
    boolean clientWantsKeepAlive(HttpRequest request);

    /** A request head was accepted and an exchange starts for it. */
    void requestAccepted(HttpRequest request);

    /** The channel whose TLS session the exchange reports: the connection, not the stream. */
    Channel tlsConnection(Channel client);

    /** The {@code Via} value this side adds upstream. */
    String via(Engine engine);

    /** Writes and flushes the response's last part. */
    void writeLastPart(HttpContent last, boolean requestComplete);

    /** Writes and flushes a whole local response. */
    void writeLocalResponse(FullHttpResponse response);

    /** The status the client sees for an upgrade's {@code 101} (HTTP/2 answers an extended CONNECT with 200). */
    int tunnelStatus(HttpResponse switching);

    /**
     * Whether the client channel closing once the response is complete is a normal end (an HTTP/2 stream closes as
     * soon as both of its sides ended) rather than an abort.
     */
    boolean closesWhenComplete();

    /**
     * The exchange finished (logged): moves the driver on (to {@link ExchangeState#IDLE} for the next request, or
     * {@link ExchangeState#CLOSED}) and ends or reuses the client side.
     *
     * @param requestEnded whether the client's side of the exchange ended (its request is complete and no tunnel
     *     waits on it)
     * @param reuseClient whether the connection may carry another exchange
     */
    void exchangeEnded(boolean requestEnded, boolean reuseClient);

    /** HTTP/1.1: the request end dropped in {@link ExchangeState#DISCARDING} arrived; wait for the next head. */
    void requestDiscarded();
}
