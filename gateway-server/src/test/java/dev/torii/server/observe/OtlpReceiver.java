package dev.torii.server.observe;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An OTLP/HTTP traces receiver on a free loopback port: it accepts {@code POST /v1/traces} with a protobuf
 * {@code ExportTraceServiceRequest} and decodes the spans itself (a few fields of the wire format, no generated
 * classes), so the test checks what Torii really exported. Thread-safe.
 */
final class OtlpReceiver implements AutoCloseable {
    /**
     * A decoded span: ids as lower-case hex, kind as in the proto (2 SERVER, 3 CLIENT), its string and integer
     * attributes as text, its status code as in the proto (0 unset, 1 OK, 2 ERROR).
     */
    record Span(
            String traceId,
            String spanId,
            String parentSpanId,
            String name,
            int kind,
            String serviceName,
            java.util.Map<String, String> attributes,
            int statusCode) {
        Span(String traceId, String spanId, String parentSpanId, String name, int kind, String serviceName) {
            this(traceId, spanId, parentSpanId, name, kind, serviceName, java.util.Map.of(), 0);
        }
    }

    private final HttpServer server;
    private final List<Span> spans = new CopyOnWriteArrayList<>();
    private final List<String> contentTypes = new CopyOnWriteArrayList<>();
    private final List<String> errors = new CopyOnWriteArrayList<>();

    OtlpReceiver() {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.createContext("/v1/traces", ex -> {
            byte[] body = ex.getRequestBody().readAllBytes();
            contentTypes.add(String.valueOf(ex.getRequestHeaders().getFirst("Content-Type")));
            try {
                spans.addAll(decodeRequest(body));
            } catch (RuntimeException e) {
                // Answered all the same, so that the exporter does not wait out its timeout; the test sees errors().
                errors.add(e.toString());
                ex.sendResponseHeaders(400, -1);
                ex.close();
                return;
            }
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/traces";
    }

    List<Span> spans() {
        return List.copyOf(spans);
    }

    /** Requests that could not be decoded, and why. */
    List<String> errors() {
        return List.copyOf(errors);
    }

    List<String> contentTypes() {
        return List.copyOf(contentTypes);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    // ------------------------------------------------------------------ protobuf wire format, the fields we need

    static List<Span> decodeRequest(byte[] b) {
        List<Span> out = new ArrayList<>();
        for (Field rs : fields(b, 0, b.length)) { // ExportTraceServiceRequest.resource_spans = 1
            if (rs.number != 1) {
                continue;
            }
            String service = null;
            List<Field> inner = fields(b, rs.start, rs.end);
            for (Field f : inner) {
                if (f.number == 1) { // ResourceSpans.resource
                    service = serviceName(b, f);
                }
            }
            for (Field ss : inner) {
                if (ss.number != 2) { // ResourceSpans.scope_spans
                    continue;
                }
                for (Field sp : fields(b, ss.start, ss.end)) {
                    if (sp.number == 2) { // ScopeSpans.spans
                        out.add(span(b, sp, service));
                    }
                }
            }
        }
        return out;
    }

    private static String serviceName(byte[] b, Field resource) {
        for (Field attr : fields(b, resource.start, resource.end)) { // Resource.attributes = 1 (KeyValue)
            if (attr.number != 1) {
                continue;
            }
            String key = null;
            String value = null;
            for (Field kv : fields(b, attr.start, attr.end)) {
                if (kv.number == 1) {
                    key = kv.string(b);
                } else if (kv.number == 2) { // AnyValue.string_value = 1
                    for (Field any : fields(b, kv.start, kv.end)) {
                        if (any.number == 1) {
                            value = any.string(b);
                        }
                    }
                }
            }
            if ("service.name".equals(key)) {
                return value;
            }
        }
        return null;
    }

    private static Span span(byte[] b, Field s, String service) {
        String traceId = null;
        String spanId = null;
        String parent = "";
        String name = null;
        int kind = 0;
        int status = 0;
        var attributes = new java.util.HashMap<String, String>();
        for (Field f : fields(b, s.start, s.end)) {
            switch (f.number) {
                case 1 -> traceId = f.hex(b);
                case 2 -> spanId = f.hex(b);
                case 4 -> parent = f.hex(b);
                case 5 -> name = f.string(b);
                case 6 -> kind = (int) f.varint;
                case 9 -> attribute(b, f, attributes); // Span.attributes (KeyValue)
                case 15 -> { // Span.status; Status.code = 3
                    for (Field st : fields(b, f.start, f.end)) {
                        if (st.number == 3) {
                            status = (int) st.varint;
                        }
                    }
                }
                default -> {}
            }
        }
        return new Span(traceId, spanId, parent, name, kind, service, java.util.Map.copyOf(attributes), status);
    }

    /** A KeyValue whose AnyValue is a string (1), a bool (2) or an int (3), as text. */
    private static void attribute(byte[] b, Field kv, java.util.Map<String, String> into) {
        String key = null;
        String value = null;
        for (Field f : fields(b, kv.start, kv.end)) {
            if (f.number == 1) {
                key = f.string(b);
            } else if (f.number == 2) {
                for (Field any : fields(b, f.start, f.end)) {
                    switch (any.number) {
                        case 1 -> value = any.string(b);
                        case 2 -> value = String.valueOf(any.varint != 0);
                        case 3 -> value = String.valueOf(any.varint);
                        default -> {}
                    }
                }
            }
        }
        if (key != null && value != null) {
            into.put(key, value);
        }
    }

    private record Field(int number, int wireType, long varint, int start, int end) {
        String string(byte[] b) {
            return new String(b, start, end - start, java.nio.charset.StandardCharsets.UTF_8);
        }

        String hex(byte[] b) {
            return HexFormat.of().formatHex(b, start, end);
        }
    }

    private static List<Field> fields(byte[] b, int from, int to) {
        List<Field> out = new ArrayList<>();
        int[] pos = {from};
        while (pos[0] < to) {
            long tag = varint(b, pos);
            int number = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            switch (wire) {
                case 0 -> out.add(new Field(number, wire, varint(b, pos), pos[0], pos[0]));
                case 1 -> {
                    out.add(new Field(number, wire, 0, pos[0], pos[0] + 8));
                    pos[0] += 8;
                }
                case 2 -> {
                    int len = (int) varint(b, pos);
                    out.add(new Field(number, wire, 0, pos[0], pos[0] + len));
                    pos[0] += len;
                }
                case 5 -> {
                    out.add(new Field(number, wire, 0, pos[0], pos[0] + 4));
                    pos[0] += 4;
                }
                default -> throw new IllegalArgumentException("wire type " + wire + " at " + pos[0]);
            }
        }
        return out;
    }

    private static long varint(byte[] b, int[] pos) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            byte x = b[pos[0]++];
            v |= (long) (x & 0x7f) << shift;
            if (x >= 0) {
                return v;
            }
        }
    }
}
