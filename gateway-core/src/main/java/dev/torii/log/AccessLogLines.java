package dev.torii.log;

import dev.torii.ExchangeLog;
import dev.torii.internal.JsonText;
import dev.torii.tcp.TcpConnectionLog;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;

/** Formats {@link AccessLogEntry entries} as lines. Stateless; thread-safe. */
final class AccessLogLines {
    private static final DateTimeFormatter ISO = DateTimeFormatter.ISO_INSTANT;
    private static final DateTimeFormatter NGINX =
            DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ROOT).withZone(ZoneOffset.UTC);

    private AccessLogLines() {}

    static String format(AccessLogFormat format, AccessLogEntry e) {
        return format == AccessLogFormat.JSON ? json(e) : combined(e);
    }

    /**
     * A TCP listener connection: JSON with {@code "type":"tcp"}, or, in the combined format, nginx {@code stream}'s
     * usual line {@code $remote_addr [$time_local] TCP $status $bytes_sent $bytes_received $session_time
     * "$upstream_addr"} with nginx's statuses (200 proxied, 403 rejected, 502 no backend).
     */
    static String format(AccessLogFormat format, TcpConnectionLog t) {
        String client = t.client() == null ? null : ip(t.client());
        String endpoint = t.backend() == null ? null : hostPort(t.backend());
        if (format != AccessLogFormat.JSON) {
            int status =
                    switch (t.outcome()) {
                        case CLOSED -> 200;
                        case REJECTED -> 403;
                        case NO_BACKEND -> 502;
                    };
            return (client == null ? "-" : client) + " [" + NGINX.format(t.start()) + "] TCP " + status + ' '
                    + t.bytesToClient() + ' ' + t.bytesFromClient() + ' '
                    + String.format(Locale.ROOT, "%.3f", t.duration().toNanos() / 1e9) + " \""
                    + (endpoint == null ? "-" : endpoint) + '"';
        }
        StringBuilder b = new StringBuilder(256);
        b.append('{');
        str(b, "time", ISO.format(t.start()));
        str(b, "type", "tcp");
        str(b, "listener", t.listener());
        str(b, "client", client);
        str(b, "sni", t.sni());
        str(b, "upstream", t.upstream());
        str(b, "endpoint", endpoint);
        str(b, "outcome", t.outcome().tag());
        num(b, "bytesIn", t.bytesFromClient());
        num(b, "bytesOut", t.bytesToClient());
        millis(b, "durationMs", t.duration().toNanos());
        b.setLength(b.length() - 1);
        return b.append('}').toString();
    }

    static String combined(AccessLogEntry e) {
        ExchangeLog l = e.log();
        StringBuilder b = new StringBuilder(160);
        b.append(ip(l.client())).append(" - - [").append(NGINX.format(Instant.ofEpochMilli(l.startEpochMillis())));
        b.append("] \"")
                .append(escapeCombined(l.method()))
                .append(' ')
                .append(escapeCombined(l.uri()))
                .append(' ');
        b.append(l.protocol()).append("\" ").append(l.status()).append(' ').append(l.responseBodyBytes());
        b.append(" \"").append(e.referer() == null ? "-" : escapeCombined(e.referer()));
        b.append("\" \"")
                .append(e.userAgent() == null ? "-" : escapeCombined(e.userAgent()))
                .append('"');
        return b.toString();
    }

    static String json(AccessLogEntry e) {
        ExchangeLog l = e.log();
        StringBuilder b = new StringBuilder(384);
        b.append('{');
        str(b, "time", ISO.format(Instant.ofEpochMilli(l.startEpochMillis())));
        str(b, "client", ip(l.client()));
        str(b, "method", l.method());
        str(b, "host", l.host());
        str(b, "path", l.uri());
        str(b, "protocol", l.protocol());
        num(b, "status", l.status());
        num(b, "bytesIn", l.requestBodyBytes());
        num(b, "bytesOut", l.responseBodyBytes());
        millis(b, "durationMs", l.totalNanos());
        millis(b, "upstreamConnectMs", l.upstreamConnectNanos());
        millis(b, "upstreamFirstByteMs", l.upstreamHeadersNanos());
        str(b, "route", l.route());
        str(b, "upstream", l.upstream());
        str(b, "endpoint", l.upstreamAddress() == null ? null : hostPort(l.upstreamAddress()));
        str(b, "error", l.error() == null ? null : l.error().name());
        num(b, "retries", Math.max(0, l.attempts() - 1));
        str(b, "traceId", e.traceId());
        str(b, "referer", e.referer());
        str(b, "userAgent", e.userAgent());
        for (Map.Entry<String, String> f : e.fields().entrySet()) {
            str(b, f.getKey(), f.getValue());
        }
        b.setLength(b.length() - 1); // the last comma
        return b.append('}').toString();
    }

    private static void str(StringBuilder b, String key, String value) {
        if (value == null) {
            return;
        }
        quote(b, key);
        b.append(':');
        quote(b, value);
        b.append(',');
    }

    private static void num(StringBuilder b, String key, long value) {
        quote(b, key);
        b.append(':').append(value).append(',');
    }

    /** Nanoseconds as milliseconds with microsecond precision; absent when the step never happened (-1). */
    private static void millis(StringBuilder b, String key, long nanos) {
        if (nanos < 0) {
            return;
        }
        quote(b, key);
        long micros = nanos / 1_000;
        b.append(':').append(micros / 1_000).append('.');
        long frac = micros % 1_000;
        if (frac < 100) {
            b.append('0');
        }
        if (frac < 10) {
            b.append('0');
        }
        b.append(frac).append(',');
    }

    static void quote(StringBuilder b, String s) {
        JsonText.quote(b, s);
    }

    /** As nginx does: quotes and backslashes and control bytes as {@code \xHH}, so a line stays one line. */
    private static String escapeCombined(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
                if (b == null) {
                    b = new StringBuilder(s.length() + 8).append(s, 0, i);
                }
                b.append(String.format(Locale.ROOT, "\\x%02X", (int) c));
            } else if (b != null) {
                b.append(c);
            }
        }
        return b == null ? s : b.toString();
    }

    private static String ip(InetSocketAddress a) {
        if (a == null) {
            return "-";
        }
        return a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
    }

    private static String hostPort(InetSocketAddress a) {
        String ip = ip(a);
        return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + a.getPort();
    }
}
