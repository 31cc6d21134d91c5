package dev.torii.server.admin;

import java.util.Map;
import java.util.Objects;

/**
 * A request to the admin API, whole (the body is at most 64 KiB). Immutable.
 *
 * @param method the method in upper case ({@code GET}, {@code PUT}, ...)
 * @param path the path without the query string
 * @param query the query parameters (the first value of each)
 * @param body the body as UTF-8 text, empty when there is none
 */
public record AdminRequest(String method, String path, Map<String, String> query, String body) {
    public AdminRequest {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        query = Map.copyOf(query);
        Objects.requireNonNull(body, "body");
    }
}
