package dev.torii;

/**
 * The request head of an {@link Exchange} as it will be sent upstream. Setters may be called only in
 * {@link Phase#REQUEST} and {@link Phase#UPSTREAM}; elsewhere they throw {@link IllegalStateException} naming the
 * phase. Not thread-safe: event-loop confined.
 */
public interface Request {
    /** The method, e.g. {@code GET}. */
    String method();

    /** The request target as received or last changed, e.g. {@code /a/b?x=1}. */
    String uri();

    /** The path part of {@link #uri()}, without the query. */
    String path();

    /** The raw query after {@code ?}, or {@code null} when there is none. */
    String query();

    /** The authority the client asked for (Host or {@code :authority}), without a port; {@code null} if absent. */
    String host();

    /** The protocol version the client spoke: {@code HTTP/1.0}, {@code HTTP/1.1} or {@code HTTP/2}. */
    String protocol();

    /** The request headers; changes are sent upstream. */
    Headers headers();

    /** Replaces the path, keeping the query. */
    void setPath(String path);

    /** Replaces the query; {@code null} removes it. */
    void setQuery(String query);
}
