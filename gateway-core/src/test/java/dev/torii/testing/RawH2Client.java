package dev.torii.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An HTTP/2 client that writes frames exactly as a test says, valid or not, over a plain socket (h2c with prior
 * knowledge): the tool for RFC 9113 conformance and flood tests. HPACK comes from Netty's encoder and decoder with
 * validation off, so uppercase names, connection-specific fields and duplicate pseudo-headers go out as written.
 * Reads are blocking with a timeout; server SETTINGS are acknowledged as they are read. Not thread-safe.
 *
 * <p>{@link #await(int)} keeps the HEADERS, DATA and RST_STREAM frames of other streams that it reads on the way, for
 * their own {@code await}: a server may interleave the frames of the responses it sends together (RFC 9113 section
 * 5), for example every stream's HEADERS first and their DATA after, and a client that dropped them would lose those
 * responses.
 */
public final class RawH2Client implements AutoCloseable {
    public static final int DATA = 0x0;
    public static final int HEADERS = 0x1;
    public static final int PRIORITY = 0x2;
    public static final int RST_STREAM = 0x3;
    public static final int SETTINGS = 0x4;
    public static final int PING = 0x6;
    public static final int GOAWAY = 0x7;
    public static final int WINDOW_UPDATE = 0x8;
    public static final int CONTINUATION = 0x9;

    public static final int END_STREAM = 0x1;
    public static final int END_HEADERS = 0x4;
    public static final int ACK = 0x1;

    public static final int PROTOCOL_ERROR = 0x1;
    public static final int FLOW_CONTROL_ERROR = 0x3;
    public static final int STREAM_CLOSED = 0x5;
    public static final int FRAME_SIZE_ERROR = 0x6;
    public static final int ENHANCE_YOUR_CALM = 0xb;

    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    /** Frames of other streams that {@link #await(int)} read while waiting for one stream, by stream id. */
    private final Map<Integer, ArrayDeque<Frame>> kept = new HashMap<>();
    /** Frames kept for one write (see {@link #batch()}), or null. */
    private ByteArrayOutputStream batch;

    private final DefaultHttp2HeadersEncoder encoder =
            new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE, true);
    private final DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(false, 1 << 20);

    /** One frame as read; {@code headers} is the decoded block of HEADERS (+ CONTINUATION) frames. */
    public record Frame(int type, int flags, int streamId, byte[] payload, Http2Headers headers) {
        public boolean has(int flag) {
            return (flags & flag) != 0;
        }

        /** The error code of a RST_STREAM or GOAWAY frame. */
        public int errorCode() {
            int at = type == GOAWAY ? 4 : 0;
            return ((payload[at] & 0xff) << 24)
                    | ((payload[at + 1] & 0xff) << 16)
                    | ((payload[at + 2] & 0xff) << 8)
                    | (payload[at + 3] & 0xff);
        }
    }

    /** What a stream ended with: a response (status, headers, body, trailers), or a reset, or a GOAWAY. */
    public record Outcome(
            int status, Http2Headers headers, byte[] body, Http2Headers trailers, int resetCode, int goAwayCode) {
        public boolean reset() {
            return resetCode >= 0;
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private RawH2Client(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /** Connects, sends the preface and an empty SETTINGS frame. */
    public static RawH2Client connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.connect(address, 5000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        RawH2Client c = new RawH2Client(s);
        c.out.write(PREFACE);
        c.frame(SETTINGS, 0, 0, new byte[0]);
        c.out.flush();
        return c;
    }

    /**
     * Connects over TLS with ALPN {@code h2} (trusting any certificate: a loopback test server), sends the preface and
     * an empty SETTINGS frame.
     */
    public static RawH2Client connectTls(InetSocketAddress address) throws IOException {
        javax.net.ssl.SSLContext tls;
        try {
            tls = javax.net.ssl.SSLContext.getInstance("TLS");
            tls.init(
                    null,
                    new javax.net.ssl.TrustManager[] {
                        new javax.net.ssl.X509TrustManager() {
                            @Override
                            public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String type) {}

                            @Override
                            public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String type) {}

                            @Override
                            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                                return new java.security.cert.X509Certificate[0];
                            }
                        }
                    },
                    null);
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e);
        }
        javax.net.ssl.SSLSocket s =
                (javax.net.ssl.SSLSocket) tls.getSocketFactory().createSocket();
        javax.net.ssl.SSLParameters params = s.getSSLParameters();
        params.setApplicationProtocols(new String[] {"h2"});
        s.setSSLParameters(params);
        s.connect(address, 5000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        s.startHandshake();
        if (!"h2".equals(s.getApplicationProtocol())) {
            s.close();
            throw new IOException("ALPN chose '" + s.getApplicationProtocol() + "' (expected: h2)");
        }
        RawH2Client c = new RawH2Client(s);
        c.out.write(PREFACE);
        c.frame(SETTINGS, 0, 0, new byte[0]);
        c.out.flush();
        return c;
    }

    public void timeout(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    /** Request pseudo-headers for {@code GET path} on {@code authority}, validation off (add anything after). */
    public static Http2Headers request(String method, String path, String authority) {
        Http2Headers h = new DefaultHttp2Headers(false);
        h.method(method).scheme("http").path(path).authority(authority);
        return h;
    }

    /** HPACK-encodes {@code headers} into one block. */
    public byte[] encode(int streamId, Http2Headers headers) {
        ByteBuf buf = Unpooled.buffer();
        try {
            encoder.encodeHeaders(streamId, headers, buf);
            byte[] b = new byte[buf.readableBytes()];
            buf.readBytes(b);
            return b;
        } catch (Http2Exception e) {
            throw new IllegalStateException(e);
        } finally {
            buf.release();
        }
    }

    /** A HEADERS frame with END_HEADERS (and END_STREAM when {@code endStream}). */
    public RawH2Client headers(int streamId, Http2Headers headers, boolean endStream) throws IOException {
        frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, encode(streamId, headers));
        return this;
    }

    public RawH2Client data(int streamId, byte[] data, boolean endStream) throws IOException {
        frame(DATA, endStream ? END_STREAM : 0, streamId, data);
        return this;
    }

    public RawH2Client rst(int streamId, int errorCode) throws IOException {
        frame(RST_STREAM, 0, streamId, int32(errorCode));
        return this;
    }

    public RawH2Client ping(long payload) throws IOException {
        byte[] p = new byte[8];
        for (int i = 0; i < 8; i++) {
            p[i] = (byte) (payload >>> (56 - 8 * i));
        }
        frame(PING, 0, 0, p);
        return this;
    }

    public RawH2Client settings(Map<Integer, Integer> settings) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (var e : settings.entrySet()) {
            b.write(e.getKey() >>> 8);
            b.write(e.getKey());
            b.writeBytes(int32(e.getValue()));
        }
        frame(SETTINGS, 0, 0, b.toByteArray());
        return this;
    }

    public RawH2Client windowUpdate(int streamId, int increment) throws IOException {
        frame(WINDOW_UPDATE, 0, streamId, int32(increment));
        return this;
    }

    /** Any frame, as given. */
    public RawH2Client frame(int type, int flags, int streamId, byte[] payload) throws IOException {
        byte[] head = new byte[9];
        head[0] = (byte) (payload.length >>> 16);
        head[1] = (byte) (payload.length >>> 8);
        head[2] = (byte) payload.length;
        head[3] = (byte) type;
        head[4] = (byte) flags;
        head[5] = (byte) (streamId >>> 24 & 0x7f);
        head[6] = (byte) (streamId >>> 16);
        head[7] = (byte) (streamId >>> 8);
        head[8] = (byte) streamId;
        OutputStream to = batch != null ? batch : out;
        to.write(head);
        to.write(payload);
        return this;
    }

    /**
     * The frames written from now until {@link #flush()} go out in one write (so, on loopback, in one read of the
     * server's), e.g. a HEADERS with the RST_STREAM that cancels it, as a rapid-reset flood sends them.
     */
    public RawH2Client batch() {
        if (batch == null) {
            batch = new ByteArrayOutputStream();
        }
        return this;
    }

    public RawH2Client flush() throws IOException {
        if (batch != null) {
            out.write(batch.toByteArray());
            batch = null;
        }
        out.flush();
        return this;
    }

    static byte[] int32(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    /**
     * The next frame, or {@code null} when the server closed the connection (or reset it). SETTINGS from the server
     * are acknowledged as they are read; HEADERS and their CONTINUATIONs come back as one decoded frame.
     */
    public Frame read() throws IOException {
        byte[] head = new byte[9];
        try {
            in.readFully(head);
        } catch (EOFException | java.net.SocketException e) {
            return null;
        }
        int length = (head[0] & 0xff) << 16 | (head[1] & 0xff) << 8 | head[2] & 0xff;
        int type = head[3] & 0xff;
        int flags = head[4] & 0xff;
        int stream = (head[5] & 0x7f) << 24 | (head[6] & 0xff) << 16 | (head[7] & 0xff) << 8 | head[8] & 0xff;
        byte[] payload = new byte[length];
        in.readFully(payload);
        if (type == SETTINGS && (flags & ACK) == 0) {
            try {
                frame(SETTINGS, ACK, 0, new byte[0]);
                out.flush();
            } catch (java.net.SocketException e) {
                // The server already closed (a connection error with our bytes unread makes its kernel send RST):
                // what it sent before, its GOAWAY included, can still be read.
            }
        }
        if (type == HEADERS) {
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            block.writeBytes(headerBlock(flags, payload));
            int f = flags;
            while ((f & END_HEADERS) == 0) {
                Frame cont = read();
                if (cont == null || cont.type() != CONTINUATION) {
                    throw new IOException("HEADERS without its CONTINUATION: " + cont);
                }
                block.writeBytes(cont.payload());
                f = cont.flags();
            }
            ByteBuf buf = Unpooled.wrappedBuffer(block.toByteArray());
            try {
                return new Frame(type, flags, stream, payload, decoder.decodeHeaders(stream, buf));
            } catch (Http2Exception e) {
                throw new IOException("cannot decode headers", e);
            } finally {
                buf.release();
            }
        }
        return new Frame(type, flags, stream, payload, null);
    }

    private static byte[] headerBlock(int flags, byte[] payload) {
        int start = 0;
        int end = payload.length;
        if ((flags & 0x8) != 0) { // PADDED
            int pad = payload[0] & 0xff;
            start = 1;
            end -= pad;
        }
        if ((flags & 0x20) != 0) { // PRIORITY
            start += 5;
        }
        return java.util.Arrays.copyOfRange(payload, start, end);
    }

    /**
     * Reads until stream {@code streamId} ends (END_STREAM or RST_STREAM) or the connection goes away (GOAWAY or
     * close), collecting the response.
     */
    public Outcome await(int streamId) throws IOException {
        Http2Headers head = null;
        Http2Headers trailers = null;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        ArrayDeque<Frame> earlier = kept.remove(streamId);
        while (true) {
            Frame f;
            if (earlier != null && !earlier.isEmpty()) {
                f = earlier.poll();
            } else {
                try {
                    f = read();
                } catch (SocketTimeoutException e) {
                    throw new IOException("stream " + streamId + " did not end in time; so far: head " + head, e);
                }
            }
            if (f == null) {
                return new Outcome(status(head), head, body.toByteArray(), trailers, -1, -2);
            }
            if (f.type() == GOAWAY) {
                return new Outcome(status(head), head, body.toByteArray(), trailers, -1, f.errorCode());
            }
            if (f.streamId() != streamId) {
                if (f.streamId() != 0 && (f.type() == HEADERS || f.type() == DATA || f.type() == RST_STREAM)) {
                    kept.computeIfAbsent(f.streamId(), id -> new ArrayDeque<>()).add(f);
                }
                continue;
            }
            switch (f.type()) {
                case HEADERS -> {
                    if (head == null || status(head) < 200) {
                        head = f.headers();
                    } else {
                        trailers = f.headers();
                    }
                }
                case DATA -> {
                    body.writeBytes(f.payload());
                    if (f.payload().length > 0) {
                        windowUpdate(0, f.payload().length);
                        windowUpdate(streamId, f.payload().length);
                        flush();
                    }
                }
                case RST_STREAM -> {
                    return new Outcome(status(head), head, body.toByteArray(), trailers, f.errorCode(), -1);
                }
                default -> {}
            }
            if ((f.type() == HEADERS || f.type() == DATA) && f.has(END_STREAM)) {
                return new Outcome(status(head), head, body.toByteArray(), trailers, -1, -1);
            }
        }
    }

    /** Reads until a GOAWAY (its error code) or the end of the connection ({@code -2}). */
    public int awaitGoAway() throws IOException {
        while (true) {
            Frame f = read();
            if (f == null) {
                return -2;
            }
            if (f.type() == GOAWAY) {
                return f.errorCode();
            }
        }
    }

    /** Every frame until the connection closes or {@code max} frames, for diagnostics. */
    public List<Frame> drain(int max) throws IOException {
        var frames = new ArrayList<Frame>();
        Frame f;
        while (frames.size() < max && (f = read()) != null) {
            frames.add(f);
        }
        return frames;
    }

    private static int status(Http2Headers h) {
        if (h == null || h.status() == null) {
            return -1;
        }
        return Integer.parseInt(h.status().toString());
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
