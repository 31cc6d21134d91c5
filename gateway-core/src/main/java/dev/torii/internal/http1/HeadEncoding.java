package dev.torii.internal.http1;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.Iterator;
import java.util.Map;

/**
 * Writes the header fields of an HTTP/1.1 head (or trailers) as Netty's {@code HttpObjectEncoder} does, byte for
 * byte, but through a per-thread scratch array: every name and value is copied into the array with plain stores and
 * the whole block goes into the (direct, pooled) buffer with one bulk write, where Netty's encoder makes a bounds
 * check and an indirect copy into the buffer for every name and every value.
 *
 * <p>The fields were validated when they were set (Netty's header validation, and Torii's checks on the way in), so
 * nothing is validated again here. As in Netty's encoder, a character above {@code 0xFF} (which validation lets
 * through only from code that set it) is written as {@code '?'}, and other characters as their low byte.
 *
 * <p>Thread-safe: the scratch array is per thread (an event loop's, in practice).
 */
public final class HeadEncoding {
    /** A head larger than this is written straight into the buffer: the scratch array does not grow past it. */
    static final int MAX_SCRATCH = 64 * 1024;

    private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected byte[] initialValue() {
            return new byte[2048];
        }
    };

    private HeadEncoding() {}

    /** Appends {@code headers} to {@code buf} as {@code name: value\r\n} lines (without the empty line that ends them). */
    public static void writeHeaders(HttpHeaders headers, ByteBuf buf) {
        if (headers.isEmpty()) {
            return;
        }
        byte[] scratch = SCRATCH.get();
        int pos = 0;
        Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence();
        while (it.hasNext()) {
            Map.Entry<CharSequence, CharSequence> field = it.next();
            CharSequence name = field.getKey();
            CharSequence value = field.getValue();
            int need = name.length() + value.length() + 4;
            if (pos + need > scratch.length) {
                if (pos + need > MAX_SCRATCH) {
                    // A huge head: what is in the scratch array goes first, the rest the slow way.
                    buf.writeBytes(scratch, 0, pos);
                    writeDirect(field, buf);
                    while (it.hasNext()) {
                        writeDirect(it.next(), buf);
                    }
                    return;
                }
                byte[] larger = new byte[Math.min(MAX_SCRATCH, Math.max(scratch.length * 2, pos + need))];
                System.arraycopy(scratch, 0, larger, 0, pos);
                scratch = larger;
                SCRATCH.set(larger);
            }
            pos = put(name, scratch, pos);
            scratch[pos++] = ':';
            scratch[pos++] = ' ';
            pos = put(value, scratch, pos);
            scratch[pos++] = '\r';
            scratch[pos++] = '\n';
        }
        buf.writeBytes(scratch, 0, pos);
    }

    /**
     * Writes {@code request}'s request line ({@code METHOD SP uri SP version CRLF}) as Netty's request encoder does
     * for an origin-form target that is all ASCII, and returns true; returns false, having written nothing, for any
     * other target (absolute-form, empty, or with a byte above {@code 0x7F}, which Netty re-encodes as UTF-8).
     */
    public static boolean writeRequestLine(HttpRequest request, ByteBuf buf) {
        String uri = request.uri();
        int length = uri.length();
        if (length == 0 || uri.charAt(0) != '/') {
            return false;
        }
        AsciiString method = request.method().asciiName();
        String version = request.protocolVersion().text();
        int need = method.length() + length + version.length() + 4;
        byte[] scratch = SCRATCH.get();
        if (need > scratch.length) {
            return false;
        }
        int pos = put(method, scratch, 0);
        scratch[pos++] = ' ';
        for (int i = 0; i < length; i++) {
            char c = uri.charAt(i);
            if (c > 0x7F) {
                return false;
            }
            scratch[pos++] = (byte) c;
        }
        scratch[pos++] = ' ';
        pos = put(version, scratch, pos);
        scratch[pos++] = '\r';
        scratch[pos++] = '\n';
        buf.writeBytes(scratch, 0, pos);
        return true;
    }

    private static void writeDirect(Map.Entry<CharSequence, CharSequence> field, ByteBuf buf) {
        CharSequence name = field.getKey();
        CharSequence value = field.getValue();
        byte[] line = new byte[name.length() + value.length() + 4];
        int pos = put(name, line, 0);
        line[pos++] = ':';
        line[pos++] = ' ';
        pos = put(value, line, pos);
        line[pos++] = '\r';
        line[pos] = '\n';
        buf.writeBytes(line);
    }

    private static int put(CharSequence s, byte[] dst, int pos) {
        int length = s.length();
        if (s instanceof AsciiString ascii) {
            System.arraycopy(ascii.array(), ascii.arrayOffset(), dst, pos, length);
            return pos + length;
        }
        if (s instanceof String string) {
            for (int i = 0; i < length; i++) {
                dst[pos++] = c2b(string.charAt(i));
            }
            return pos;
        }
        for (int i = 0; i < length; i++) {
            dst[pos++] = c2b(s.charAt(i));
        }
        return pos;
    }

    /** As Netty's {@code AsciiString.c2b}: the low byte, or {@code '?'} above {@code 0xFF}. */
    private static byte c2b(char c) {
        return (byte) (c > 0xFF ? '?' : c);
    }
}
