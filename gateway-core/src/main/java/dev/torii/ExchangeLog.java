package dev.torii;

import java.net.InetSocketAddress;

/**
 * The record of one finished exchange: what the access log, the metrics and {@link Phase#LOG} hooks read. Immutable.
 * Durations are in nanoseconds from the moment the request head was decoded; {@code -1} when the step never happened.
 *
 * @param startEpochMillis wall-clock time the request head was decoded
 * @param client the client's address
 * @param protocol {@code HTTP/1.0}, {@code HTTP/1.1} or {@code HTTP/2}
 * @param method the request method
 * @param uri the request target as received
 * @param host the requested host, or {@code null}
 * @param route the matched route's name, or {@code null}
 * @param upstream the upstream's name, or {@code null}
 * @param upstreamAddress the address of the endpoint connection used, or {@code null}
 * @param status the status sent to the client (499 when the client aborted before the head was sent)
 * @param error the failure, or {@code null} when the exchange completed normally
 * @param requestBodyBytes request body bytes received from the client
 * @param responseBodyBytes response body bytes sent to the client
 * @param upstreamConnectNanos when a pooled connection was ready (acquire or connect), or -1
 * @param upstreamHeadersNanos when the upstream's response head arrived, or -1
 * @param totalNanos when the last byte was sent (or the exchange failed)
 * @param attempts upstream attempts made (2 when a connect failure was retried)
 */
public record ExchangeLog(
        long startEpochMillis,
        InetSocketAddress client,
        String protocol,
        String method,
        String uri,
        String host,
        String route,
        String upstream,
        InetSocketAddress upstreamAddress,
        int status,
        ProxyError error,
        long requestBodyBytes,
        long responseBodyBytes,
        long upstreamConnectNanos,
        long upstreamHeadersNanos,
        long totalNanos,
        int attempts) {}
