package dev.torii.internal;

/**
 * How a request's body is framed, read from its head.
 *
 * @param chunked {@code Transfer-Encoding: chunked}
 * @param bodyExpected a body follows the head (chunked, or a positive {@code Content-Length})
 * @param expectContinue the client waits for {@code 100 Continue} before it sends the body
 */
record RequestFraming(boolean chunked, boolean bodyExpected, boolean expectContinue) {
    /** A request without a body. */
    static final RequestFraming NONE = new RequestFraming(false, false, false);
}
