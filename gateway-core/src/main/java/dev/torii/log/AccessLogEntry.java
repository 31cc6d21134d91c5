package dev.torii.log;

import dev.torii.ExchangeLog;
import java.util.Map;
import java.util.Objects;

/**
 * What the access log writes for one exchange: its {@link ExchangeLog} and what only the exchange knew (two request
 * headers, the trace id, fields hooks added). Immutable.
 *
 * @param log the exchange's record
 * @param referer the request's {@code Referer}, or {@code null}
 * @param userAgent the request's {@code User-Agent}, or {@code null}
 * @param traceId the W3C trace id of the exchange's server span, or {@code null} without tracing
 * @param fields fields hooks added with {@link AccessLog#field}, in the order added
 */
public record AccessLogEntry(
        ExchangeLog log, String referer, String userAgent, String traceId, Map<String, String> fields) {
    public AccessLogEntry {
        Objects.requireNonNull(log, "log");
        fields = fields == null ? Map.of() : fields;
    }
}
