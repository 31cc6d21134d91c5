package dev.torii.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A blocking HTTP/1.1 client that writes exactly the bytes it is given and reads responses byte by byte, for tests of
 * framing: pipelining, malformed requests, trailers, interim responses, who closes the connection and when.
 *
 * <p>Every read waits at most the timeout given at construction, then throws {@link SocketTimeoutException} (wrapped in
 * an {@link UncheckedIOException}). Not thread-safe: one test thread drives it.
 */
public final class RawClient implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    /** Connects to {@code address} with a 5 s read timeout. */
    public RawClient(InetSocketAddress address) {
        this(address, Duration.ofSeconds(5));
    }

    public RawClient(InetSocketAddress address, Duration readTimeout) {
        try {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(address, 5_000);
            socket.setSoTimeout(Math.toIntExact(readTimeout.toMillis()));
            in = socket.getInputStream();
            out = socket.getOutputStream();
        } catch (IOException e) {
            throw new UncheckedIOException("connect to " + address, e);
        }
    }

    /** Writes {@code bytes} in one write call. */
    public RawClient write(byte[] bytes) {
        try {
            out.write(bytes);
            out.flush();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code text} as ISO-8859-1, so every char below 256 becomes exactly one byte. */
    public RawClient write(String text) {
        return write(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Half-closes: the server sees end of stream, responses can still be read. */
    public void shutdownOutput() {
        try {
            socket.shutdownOutput();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads one response (a 1xx interim response counts as one); the body is framed per RFC 9112 section 6.3. */
    public RawResponse readResponse() {
        return readResponse(false);
    }

    /**
     * Reads one response.
     *
     * @param toHead whether the request was HEAD, so the response has no body whatever its headers say
     */
    public RawResponse readResponse(boolean toHead) {
        var raw = new ByteArrayOutputStream();
        String statusLine = readLine(raw, true);
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new AssertionError("not a status line: '" + escape(statusLine) + "'");
        }
        int status = Integer.parseInt(parts[1]);
        List<Map.Entry<String, String>> headers = readFields(raw);
        byte[] body = new byte[0];
        List<Map.Entry<String, String>> trailers = List.of();
        boolean hasBody = !toHead && status >= 200 && status != 204 && status != 304;
        String te = RawResponse.first(headers, "transfer-encoding");
        String cl = RawResponse.first(headers, "content-length");
        if (hasBody && te != null && te.toLowerCase(Locale.ROOT).endsWith("chunked")) {
            var bodyOut = new ByteArrayOutputStream();
            while (true) {
                String sizeLine = readLine(raw, false);
                int semi = sizeLine.indexOf(';');
                int size = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).strip(), 16);
                if (size == 0) {
                    break;
                }
                byte[] chunk = readExactly(raw, size);
                bodyOut.writeBytes(chunk);
                String end = readLine(raw, false);
                if (!end.isEmpty()) {
                    throw new AssertionError("chunk data not followed by CRLF: '" + escape(end) + "'");
                }
            }
            trailers = readFields(raw);
            body = bodyOut.toByteArray();
        } else if (hasBody && cl != null) {
            body = readExactly(raw, Integer.parseInt(cl.strip()));
        } else if (hasBody) {
            body = readToEnd(raw);
        }
        return new RawResponse(statusLine, status, headers, body, trailers, raw.toByteArray());
    }

    /** Reads until the server closes, and returns what came; fails if it does not close within the timeout. */
    public byte[] readUntilClosed() {
        return readToEnd(new ByteArrayOutputStream());
    }

    /**
     * Whether the server has closed the connection (end of stream or reset) with nothing more to read. Fails with the
     * bytes if it sends anything instead; returns {@code false} if it neither sends nor closes within the timeout.
     */
    public boolean isClosedByPeer() {
        try {
            int b = in.read();
            if (b < 0) {
                return true;
            }
            var rest = new ByteArrayOutputStream();
            rest.write(b);
            socket.setSoTimeout(200);
            try {
                rest.writeBytes(in.readNBytes(in.available()));
            } catch (IOException ignored) {
                // only for the message below
            }
            throw new AssertionError("expected the connection to be closed, but got: '"
                    + escape(rest.toString(StandardCharsets.ISO_8859_1)) + "'");
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true; // connection reset
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing a test socket
        }
    }

    private List<Map.Entry<String, String>> readFields(ByteArrayOutputStream raw) {
        var fields = new ArrayList<Map.Entry<String, String>>();
        while (true) {
            String line = readLine(raw, false);
            if (line.isEmpty()) {
                return fields;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new AssertionError("not a header line: '" + escape(line) + "'");
            }
            fields.add(Map.entry(
                    line.substring(0, colon), line.substring(colon + 1).strip()));
        }
    }

    /** Reads a CRLF-terminated line; a bare LF fails (the gateway must send CRLF). */
    private String readLine(ByteArrayOutputStream raw, boolean first) {
        var line = new StringBuilder();
        try {
            while (true) {
                int b = in.read();
                if (b < 0) {
                    throw new AssertionError((first && line.isEmpty()
                                    ? "connection closed before a response"
                                    : "connection closed in the middle of a line: '" + escape(line.toString()))
                            + "'");
                }
                raw.write(b);
                if (b == '\n') {
                    if (line.isEmpty() || line.charAt(line.length() - 1) != '\r') {
                        throw new AssertionError("line ended by a bare LF: '" + escape(line.toString()) + "'");
                    }
                    line.setLength(line.length() - 1);
                    return line.toString();
                }
                line.append((char) b);
            }
        } catch (SocketException e) {
            throw new AssertionError(
                    "connection reset while reading a response" + (line.isEmpty() ? "" : ": '" + line + "'"), e);
        } catch (IOException e) {
            throw new UncheckedIOException("reading a response line (so far: '" + escape(line.toString()) + "')", e);
        }
    }

    private byte[] readExactly(ByteArrayOutputStream raw, int n) {
        try {
            byte[] bytes = in.readNBytes(n);
            raw.writeBytes(bytes);
            if (bytes.length < n) {
                throw new AssertionError("connection closed after " + bytes.length + " of " + n + " body bytes");
            }
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private byte[] readToEnd(ByteArrayOutputStream raw) {
        var body = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                body.write(buf, 0, n);
            }
        } catch (SocketException e) {
            // reset after the data: treated as the end
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "waiting for the server to close (got so far: '"
                            + escape(body.toString(StandardCharsets.ISO_8859_1)) + "')",
                    e);
        }
        raw.writeBytes(body.toByteArray());
        return body.toByteArray();
    }

    /** {@code text} with CR, LF, tab and other control bytes spelled out, for messages. */
    public static String escape(String text) {
        var sb = new StringBuilder();
        for (char c : text.toCharArray()) {
            switch (c) {
                case '\r' -> sb.append("\\r");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7f) {
                        sb.append(String.format("\\x%02x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }

    /**
     * One response as read from the wire.
     *
     * @param statusLine the status line without CRLF
     * @param status the status code
     * @param headers header fields in order, values without surrounding whitespace
     * @param body the body after removing chunked framing
     * @param trailers trailer fields of a chunked body
     * @param raw every byte of the response as received
     */
    public record RawResponse(
            String statusLine,
            int status,
            List<Map.Entry<String, String>> headers,
            byte[] body,
            List<Map.Entry<String, String>> trailers,
            byte[] raw) {

        /** The first value of header {@code name} (case-insensitive), or {@code null}. */
        public String header(String name) {
            return first(headers, name);
        }

        /** Every value of header {@code name} (case-insensitive), in order. */
        public List<String> headers(String name) {
            return headers.stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(Map.Entry::getValue)
                    .toList();
        }

        /** The first value of trailer {@code name} (case-insensitive), or {@code null}. */
        public String trailer(String name) {
            return first(trailers, name);
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return escape(new String(raw, StandardCharsets.ISO_8859_1));
        }

        static String first(List<Map.Entry<String, String>> fields, String name) {
            for (var e : fields) {
                if (e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue();
                }
            }
            return null;
        }
    }
}
