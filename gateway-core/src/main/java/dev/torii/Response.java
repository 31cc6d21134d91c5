package dev.torii;

/**
 * The response head of an {@link Exchange}: the upstream's, or the one rendered for an error or by a hook. Available
 * in {@link Phase#RESPONSE} (changeable) and {@link Phase#LOG} (read-only). Event-loop confined.
 */
public interface Response {
    /** The status code. */
    int status();

    /** Changes the status code (100-599 excluded 1xx); only in {@link Phase#RESPONSE}. */
    void setStatus(int status);

    /** The response headers; changes are sent to the client. */
    Headers headers();
}
