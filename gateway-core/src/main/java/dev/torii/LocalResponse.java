package dev.torii;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A complete response produced by the gateway itself (an error, or a hook that responds) rather than relayed from an
 * upstream. Immutable.
 *
 * @param status the status code, 200-599
 * @param headers header fields in order; {@code content-length} is set by the engine
 * @param body the body bytes (not copied: do not change the array after passing it)
 */
public record LocalResponse(int status, List<Map.Entry<String, String>> headers, byte[] body) {
    public LocalResponse {
        if (status < 200 || status > 599) {
            throw new IllegalArgumentException("status: " + status + " (expected: 200-599)");
        }
        headers = List.copyOf(Objects.requireNonNull(headers, "headers"));
        Objects.requireNonNull(body, "body");
    }

    /** A {@code text/plain; charset=utf-8} response. */
    public static LocalResponse text(int status, String body) {
        return new LocalResponse(
                status,
                List.of(Map.entry("content-type", "text/plain; charset=utf-8")),
                body.getBytes(StandardCharsets.UTF_8));
    }

    /** A response with the given body and extra headers (added after {@code content-type: text/plain}). */
    public static LocalResponse text(int status, String body, Map<String, String> headers) {
        var all = new java.util.ArrayList<Map.Entry<String, String>>(headers.size() + 1);
        if (headers.keySet().stream().noneMatch(k -> k.equalsIgnoreCase("content-type"))) {
            all.add(Map.entry("content-type", "text/plain; charset=utf-8"));
        }
        headers.forEach((k, v) -> all.add(Map.entry(k, v)));
        return new LocalResponse(status, all, body.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * This response with {@code extra} headers: each replaces every header of the same name (case-insensitive) and
     * is added at the end, in order.
     */
    public LocalResponse withHeaders(List<Map.Entry<String, String>> extra) {
        var all = new java.util.ArrayList<Map.Entry<String, String>>(headers.size() + extra.size());
        for (var h : headers) {
            if (extra.stream().noneMatch(e -> e.getKey().equalsIgnoreCase(h.getKey()))) {
                all.add(h);
            }
        }
        all.addAll(extra);
        return new LocalResponse(status, all, body);
    }
}
