package dev.torii.log;

/** How an {@link AccessLog} writes each exchange: one line per exchange either way. */
public enum AccessLogFormat {
    /**
     * One JSON object per line (the default): every {@link dev.torii.ExchangeLog} field, the trace id and the fields
     * hooks added with {@link AccessLog#field}. The field list is in docs/operations.md.
     */
    JSON,
    /**
     * nginx's {@code combined} format, for tools that parse it: {@code $remote_addr - - [$time_local] "$request"
     * $status $body_bytes_sent "$http_referer" "$http_user_agent"}.
     */
    COMBINED
}
