package dev.torii.server.admin;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;

/**
 * A response of the admin API. Immutable (the body array is not copied: do not change it afterwards).
 *
 * @param status the HTTP status
 * @param contentType the content type of the body
 * @param body the body
 * @param headers more response headers
 */
public record AdminResponse(int status, String contentType, byte[] body, Map<String, String> headers) {
    public AdminResponse {
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(body, "body");
        headers = Map.copyOf(headers);
    }

    /** A {@code text/plain} response. */
    public static AdminResponse text(int status, String text) {
        return new AdminResponse(status, "text/plain; charset=utf-8", text.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    /** A {@code application/json} response; the caller writes the JSON. */
    public static AdminResponse json(int status, String json) {
        return new AdminResponse(status, "application/json", json.getBytes(StandardCharsets.UTF_8), Map.of());
    }
}
