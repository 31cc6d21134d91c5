package dev.torii.dns.internal;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;

/**
 * What the DNS server reads from a query's bytes without dnsjava: the header, one question, an optional OPT record.
 * {@link #parse} recognises the common query (opcode QUERY, one question of class IN for an ordinary type, a name of
 * letters, digits, hyphens and underscores, at most an OPT record after it) so that a cache hit is answered without
 * building dnsjava objects; anything else is {@link Kind#SLOW}, for dnsjava to parse and judge.
 *
 * @param kind what to do with the query
 * @param id the query's ID (valid unless the query is shorter than a header)
 * @param flags the header's flags word
 * @param question the cache key, for {@link Kind#FAST} only
 * @param questionLength the bytes of the question section (name, type, class) after the 12-byte header; for
 *     {@link Kind#FAST} only
 * @param opt whether the query carried an OPT record (EDNS)
 * @param udpSize the largest UDP response to send: the client's EDNS size within 512-1232, or 512 without EDNS
 */
public record WireQuery(Kind kind, int id, int flags, Question question, int questionLength, boolean opt, int udpSize) {

    /** The header length. */
    public static final int HEADER = 12;

    private static final int FLAG_QR = 0x8000;
    private static final int FLAG_RD = 0x0100;

    /** What a query needs. */
    public enum Kind {
        /** Parsed here; a cache hit can be answered from a cached rendering. */
        FAST,
        /** Anything else with a readable header: dnsjava parses it. */
        SLOW,
        /** Shorter than a header: no ID to answer to. */
        SHORT,
        /** A response (QR set), never answered so that two servers never loop. */
        RESPONSE
    }

    /** Whether the client asked for recursion. */
    public boolean rd() {
        return (flags & FLAG_RD) != 0;
    }

    /** The opcode. */
    public int opcode() {
        return (flags >> 11) & 0xF;
    }

    /** Which of {@link Answer#WIRE_VARIANTS} renderings fits this query: RD and EDNS, the only inputs. */
    public int variant() {
        return (rd() ? 1 : 0) | (opt ? 2 : 0);
    }

    /** Reads the query in {@code b} from its reader index, which it does not move. */
    public static WireQuery parse(ByteBuf b) {
        int start = b.readerIndex();
        int length = b.readableBytes();
        if (length < HEADER) {
            return new WireQuery(Kind.SHORT, 0, 0, null, 0, false, 512);
        }
        int id = b.getUnsignedShort(start);
        int flags = b.getUnsignedShort(start + 2);
        if ((flags & FLAG_QR) != 0) {
            return new WireQuery(Kind.RESPONSE, id, flags, null, 0, false, 512);
        }
        WireQuery slow = new WireQuery(Kind.SLOW, id, flags, null, 0, false, 512);
        int opcode = (flags >> 11) & 0xF;
        if (opcode != 0
                || b.getUnsignedShort(start + 4) != 1
                || b.getUnsignedShort(start + 6) != 0
                || b.getUnsignedShort(start + 8) != 0) {
            return slow;
        }
        int additional = b.getUnsignedShort(start + 10);
        if (additional > 1) {
            return slow;
        }
        int end = start + length;
        int p = start + HEADER;
        // First pass: check the labels and measure the text name (labels joined by dots).
        int textLength = -1;
        while (true) {
            if (p >= end) {
                return slow;
            }
            int label = b.getUnsignedByte(p);
            if (label == 0) {
                p++;
                break;
            }
            if (label > 63 || p + 1 + label > end) {
                return slow; // a compression pointer, an extended label type, or a short packet
            }
            for (int i = p + 1; i <= p + label; i++) {
                if (!plain(b.getByte(i))) {
                    return slow; // dnsjava escapes other bytes in a name's text
                }
            }
            textLength += label + 1;
            p += label + 1;
        }
        if (textLength <= 0 || p - (start + HEADER) > 255 || p + 4 > end) {
            return slow; // the root, a name longer than DNS allows, or no room for type and class
        }
        int type = b.getUnsignedShort(p);
        int dclass = b.getUnsignedShort(p + 2);
        p += 4;
        if (dclass != 1
                || type == 41
                || type == 251
                || type == 252
                || type == 255
                || (type >= 128 && type <= 255)
                || type == 0) {
            return slow;
        }
        int questionLength = p - (start + HEADER);
        boolean opt = false;
        int udpSize = 512;
        if (additional == 1) {
            // OPT: root owner, type 41, class = UDP size, TTL = extended rcode, version, flags; then RDATA.
            if (p + 11 > end || b.getUnsignedByte(p) != 0 || b.getUnsignedShort(p + 1) != 41) {
                return slow;
            }
            int version = b.getUnsignedByte(p + 6);
            int rdLength = b.getUnsignedShort(p + 9);
            if (version != 0 || p + 11 + rdLength != end) {
                return slow;
            }
            opt = true;
            udpSize = udpSize(b.getUnsignedShort(p + 3));
            p = end;
        }
        if (p != end) {
            return slow;
        }
        byte[] text = new byte[textLength];
        int q = start + HEADER;
        int t = 0;
        while (true) {
            int label = b.getUnsignedByte(q++);
            if (label == 0) {
                break;
            }
            if (t > 0) {
                text[t++] = '.';
            }
            for (int i = 0; i < label; i++) {
                byte c = b.getByte(q++);
                text[t++] = c >= 'A' && c <= 'Z' ? (byte) (c + ('a' - 'A')) : c;
            }
        }
        Question question = new Question(new String(text, StandardCharsets.ISO_8859_1), type);
        return new WireQuery(Kind.FAST, id, flags, question, questionLength, opt, udpSize);
    }

    /**
     * The UDP response size for a client that advertised {@code advertised} in its OPT record: at least 512, and at
     * most 1232 whatever it says (DNS Flag Day 2020, unbound's default {@code max-udp-size}): larger answers go by TCP
     * rather than as fragmented datagrams.
     */
    public static int udpSize(int advertised) {
        return Math.min(MAX_UDP_RESPONSE, Math.max(512, advertised));
    }

    /** The largest UDP response sent, whatever the client's EDNS size. */
    public static final int MAX_UDP_RESPONSE = 1232;

    private static boolean plain(byte c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }
}
