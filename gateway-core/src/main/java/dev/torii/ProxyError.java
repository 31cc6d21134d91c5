package dev.torii;

/**
 * The closed list of ways an exchange can fail, each with the one status the client sees. Every failure in the
 * engine maps to exactly one kind; the {@link ErrorResponder} renders it and the {@link ExchangeLog} records it.
 */
public enum ProxyError {
    /** The request is malformed or its framing is ambiguous (RFC 9112 section 6); the connection is closed. */
    BAD_REQUEST(400),
    /** No route matched the request. */
    NO_ROUTE(404),
    /** The request headers did not arrive within the header read timeout (slowloris). */
    REQUEST_TIMEOUT(408),
    /** The request body is larger than the limit. */
    REQUEST_TOO_LARGE(413),
    /** The request line (URI) is longer than the limit. */
    URI_TOO_LONG(414),
    /** The request headers are larger than the limit. */
    HEADERS_TOO_LARGE(431),
    /** A rate limit refused the request. */
    RATE_LIMITED(429),
    /**
     * A rate limit kept in Redis could not be checked (Redis slow or down) and its policy fails closed
     * ({@code onStoreFailure: closed}).
     */
    RATE_LIMIT_UNAVAILABLE(503),
    /** A hook threw, ran past its budget or returned something invalid. */
    HOOK_FAILED(500),
    /** The upstream's host name could not be resolved. */
    DNS_FAILED(502),
    /** No connection could be opened to any endpoint of the upstream. */
    CONNECT_FAILED(502),
    /** The upstream closed or reset the connection before the response was complete. */
    UPSTREAM_RESET(502),
    /** The gateway is in maintenance mode. */
    MAINTENANCE(503),
    /** The upstream has no endpoint to send the request to. */
    NO_ENDPOINT(503),
    /** Every connection to the chosen endpoint is busy and the wait queue is full or timed out. */
    POOL_EXHAUSTED(503),
    /** The upstream did not connect or answer within its timeout. */
    UPSTREAM_TIMEOUT(504),
    /** The client went away before the response was complete; logged only, nothing is sent. */
    CLIENT_ABORTED(499),
    /** The client's address is refused by an allow or deny list ({@link dev.torii.access.AccessControl}). */
    ACCESS_DENIED(403),
    /** The request line names an HTTP version other than HTTP/1.0 and HTTP/1.1 (RFC 9110 section 15.6.6). */
    HTTP_VERSION_NOT_SUPPORTED(505);

    private final int status;

    ProxyError(int status) {
        this.status = status;
    }

    /** The HTTP status sent to the client for this kind (499 for {@link #CLIENT_ABORTED}, which is never sent). */
    public int status() {
        return status;
    }
}
