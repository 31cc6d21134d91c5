package dev.torii.dns.internal;

import io.netty.buffer.ByteBuf;
import org.xbill.DNS.Name;
import org.xbill.DNS.TextParseException;

/**
 * One question as the upstream transport sends it, written straight into a (pooled) buffer: the 12-byte header (the
 * ID, RD, one question, an OPT record when {@code ednsPayloadSize > 0}), the name's labels, type, class IN, and the OPT
 * record (version 0, no flags, no options). The bytes are exactly what dnsjava writes for
 * {@code Message.newQuery(Record.newRecord(name, type, IN))} plus {@code new OPTRecord(ednsPayloadSize, 0, 0)}, without
 * building a {@code Message}, a {@code Name} or a compression table per query.
 *
 * <p>The answer's question is matched against {@link #wireName} on the received bytes, before anything is parsed.
 *
 * @param name the name in lower case without its final dot, as a {@link Question} holds it
 * @param type the record type
 * @param ednsPayloadSize the UDP size advertised in the OPT record, or 0 for a query without one
 * @param wireName the name in wire format (labels, then the root's zero), lower case
 */
public record UpstreamQuery(String name, int type, int ednsPayloadSize, byte[] wireName) {
    private static final int FLAG_RD = 0x0100;
    private static final int OPT_LENGTH = 11;

    /**
     * The query for {@code question}; fails with a {@link TextParseException} on a name DNS cannot carry (a label over
     * 63 bytes, an empty label, a name over 255 bytes), as {@link Question#toName()} does.
     */
    public static UpstreamQuery of(Question question, int ednsPayloadSize) throws TextParseException {
        return new UpstreamQuery(question.name(), question.type(), ednsPayloadSize, wireName(question.name()));
    }

    /**
     * {@code name} (no final dot needed) in wire format. Plain names (no backslash escapes) are written here; an escaped
     * one, as {@code Name.toString} prints odd bytes, goes through dnsjava's parser.
     */
    static byte[] wireName(String name) throws TextParseException {
        int length = name.length();
        if (length > 0 && name.charAt(length - 1) == '.') {
            length--;
        }
        if (length == 0) {
            return new byte[] {0};
        }
        if (name.indexOf('\\') >= 0) {
            return Name.fromString(name.endsWith(".") ? name : name + ".").toWire();
        }
        if (length + 2 > 255) {
            throw new TextParseException("'" + name + "': name too long");
        }
        byte[] wire = new byte[length + 2];
        int lengthAt = 0;
        for (int i = 0; i < length; i++) {
            char c = name.charAt(i);
            if (c == '.') {
                close(name, wire, lengthAt, i + 1);
                lengthAt = i + 1;
            } else {
                if (c > 0xFF) {
                    throw new TextParseException("'" + name + "': not a DNS name (character " + (int) c + ")");
                }
                wire[i + 1] = (byte) (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
            }
        }
        close(name, wire, lengthAt, length + 1);
        wire[length + 1] = 0;
        return wire;
    }

    /** Writes the length of the label whose length byte is at {@code at} and which ends before {@code end}. */
    private static void close(String name, byte[] wire, int at, int end) throws TextParseException {
        int label = end - at - 1;
        if (label == 0) {
            throw new TextParseException("'" + name + "': empty label");
        }
        if (label > 63) {
            throw new TextParseException("'" + name + "': label longer than 63");
        }
        wire[at] = (byte) label;
    }

    /** The bytes {@link #write} writes. */
    public int length() {
        return WireQuery.HEADER + wireName.length + 4 + (ednsPayloadSize > 0 ? OPT_LENGTH : 0);
    }

    /** Writes the query with {@code id} at {@code out}'s writer index. */
    public void write(ByteBuf out, int id) {
        boolean opt = ednsPayloadSize > 0;
        out.writeShort(id);
        out.writeShort(FLAG_RD);
        out.writeShort(1); // QDCOUNT
        out.writeShort(0);
        out.writeShort(0);
        out.writeShort(opt ? 1 : 0); // ARCOUNT
        out.writeBytes(wireName);
        out.writeShort(type);
        out.writeShort(1); // class IN
        if (opt) {
            out.writeByte(0); // the root
            out.writeShort(41); // OPT
            out.writeShort(ednsPayloadSize);
            out.writeInt(0); // extended rcode, version, flags
            out.writeShort(0); // no options
        }
    }

    /**
     * Whether the response in {@code answer} (from its reader index) asks this question: one question, this name
     * (letter case aside, DNS 0x20), this type and class IN. Read on the bytes, nothing allocated.
     */
    public boolean asked(ByteBuf answer) {
        int start = answer.readerIndex();
        int end = answer.writerIndex();
        int p = start + WireQuery.HEADER;
        if (p + wireName.length + 4 > end || answer.getUnsignedShort(start + 4) != 1) {
            return false;
        }
        for (byte expected : wireName) {
            byte b = answer.getByte(p++);
            if (b != expected && !(b >= 'A' && b <= 'Z' && b + ('a' - 'A') == expected)) {
                return false;
            }
        }
        return answer.getUnsignedShort(p) == type && answer.getUnsignedShort(p + 2) == 1;
    }
}
