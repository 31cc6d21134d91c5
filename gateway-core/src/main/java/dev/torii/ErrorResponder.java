package dev.torii;

/**
 * Renders every {@link ProxyError} into the response the client sees. There is one per gateway; replace it with
 * {@link Gateway.Builder#errorResponder}. Called on an event loop: must not block, and must be thread-safe.
 */
@FunctionalInterface
public interface ErrorResponder {
    /**
     * The response for {@code error}. Its status should be {@link ProxyError#status()}.
     *
     * @param error the kind of failure (never {@link ProxyError#CLIENT_ABORTED})
     * @param exchange the exchange, or {@code null} when the request could not be parsed into one
     */
    LocalResponse render(ProxyError error, Exchange exchange);

    /** The default: a short {@code text/plain} body naming the kind, e.g. {@code "502 CONNECT_FAILED\n"}. */
    static ErrorResponder plainText() {
        return (error, exchange) -> LocalResponse.text(error.status(), error.status() + " " + error.name() + "\n");
    }
}
