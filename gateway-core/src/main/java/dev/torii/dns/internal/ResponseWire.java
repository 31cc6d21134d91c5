package dev.torii.dns.internal;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.util.List;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.Compression;
import org.xbill.DNS.DNSInput;
import org.xbill.DNS.DNSOutput;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Type;

/**
 * The DNS server's response to a {@link WireQuery.Kind#FAST} query, written from a cached {@link Answer} straight into
 * wire format: the bytes dnsjava writes for the response {@code DnsCache} builds (header with QR, RA, the query's RD
 * and the answer's rcode; the question; the answer records then the SOA, every one with the TTL given; an OPT record
 * when the query had one), name compression included, without parsing the query into a {@code Message}, building the
 * response {@code Message} or rebuilding each record with its new TTL.
 *
 * <p>Two shapes are written: addresses only (A and AAAA records, all owned by the question's name, as {@link Answer}
 * holds them when there is no CNAME chain: each owner is a pointer to the question), and anything made of A, AAAA,
 * CNAME and SOA records (CNAME chains, negative answers), compressed with dnsjava's own {@link Compression} and
 * {@link Name#toWire(DNSOutput, Compression)} so that pointers fall where dnsjava puts them. Any other record type
 * gives null: the caller has dnsjava render that response. A miss of the common kinds is rendered once this way, and
 * every hit after it reuses the bytes.
 */
final class ResponseWire {
    private static final int FLAG_QR = 0x8000;
    private static final int FLAG_RD = 0x0100;
    private static final int FLAG_RA = 0x0080;
    private static final int OPT_LENGTH = 11;
    /** A compression pointer to offset 12, the question's name. */
    private static final int POINTER_TO_QUESTION = 0xC000 | WireQuery.HEADER;

    private ResponseWire() {}

    /**
     * The whole response (never truncated) to {@code q}, whose bytes are {@code query} (from their reader index), made
     * of {@code answer} with every record's TTL {@code ttl}; the OPT record advertises {@code optSize}. Null when the
     * answer holds a record type not written here.
     */
    static byte[] render(WireQuery q, ByteBuf query, Answer answer, long ttl, int optSize) {
        List<Record> records = answer.records();
        List<Record> authority = answer.authority();
        boolean addressesOnly = authority.isEmpty();
        for (Record r : records) {
            int type = r.getType();
            if (type != Type.A && type != Type.AAAA) {
                addressesOnly = false;
                if (type != Type.CNAME) {
                    return null;
                }
            }
        }
        for (Record r : authority) {
            if (r.getType() != Type.SOA) {
                return null;
            }
        }
        return addressesOnly
                ? addresses(q, query, answer, records, ttl, optSize)
                : compressed(q, query, answer, records, authority, ttl, optSize);
    }

    private static byte[] addresses(
            WireQuery q, ByteBuf query, Answer answer, List<Record> records, long ttl, int optSize) {
        int length = WireQuery.HEADER + q.questionLength() + (q.opt() ? OPT_LENGTH : 0);
        byte[][] rdata = new byte[records.size()][];
        for (int i = 0; i < rdata.length; i++) {
            rdata[i] = records.get(i).rdataToWireCanonical(); // an address: its wire form, no name in it
            length += 12 + rdata[i].length;
        }
        byte[] out = new byte[length];
        int p = header(out, q, answer.rcode(), records.size(), 0);
        query.getBytes(query.readerIndex() + WireQuery.HEADER, out, p, q.questionLength());
        p += q.questionLength();
        for (int i = 0; i < rdata.length; i++) {
            Record r = records.get(i);
            p = u16(out, p, POINTER_TO_QUESTION);
            p = u16(out, p, r.getType());
            p = u16(out, p, r.getDClass());
            p = u32(out, p, ttl);
            p = u16(out, p, rdata[i].length);
            System.arraycopy(rdata[i], 0, out, p, rdata[i].length);
            p += rdata[i].length;
        }
        if (q.opt()) {
            opt(out, p, optSize);
        }
        return out;
    }

    private static byte[] compressed(
            WireQuery q,
            ByteBuf query,
            Answer answer,
            List<Record> records,
            List<Record> authority,
            long ttl,
            int optSize) {
        byte[] head = new byte[WireQuery.HEADER];
        header(head, q, answer.rcode(), records.size(), authority.size());
        DNSOutput out = new DNSOutput(512);
        out.writeByteArray(head);
        Compression c = new Compression();
        Name qname;
        try {
            qname = new Name(new DNSInput(query.nioBuffer(query.readerIndex() + WireQuery.HEADER, q.questionLength())));
        } catch (IOException e) {
            return null; // WireQuery.parse read this name already: cannot happen
        }
        qname.toWire(out, c); // as dnsjava writes the question: every suffix becomes a compression target
        out.writeU16(q.question().type());
        out.writeU16(1); // IN: a FAST query's class
        for (Record r : records) {
            write(out, c, r, ttl);
        }
        for (Record r : authority) {
            write(out, c, r, ttl);
        }
        if (q.opt()) {
            byte[] opt = new byte[OPT_LENGTH];
            opt(opt, 0, optSize);
            out.writeByteArray(opt);
        }
        return out.toByteArray();
    }

    /** One record as dnsjava's {@code Record.toWire(out, section, c)} writes it, with {@code ttl}. */
    private static void write(DNSOutput out, Compression c, Record r, long ttl) {
        r.getName().toWire(out, c);
        out.writeU16(r.getType());
        out.writeU16(r.getDClass());
        out.writeU32(ttl);
        int lengthAt = out.current();
        out.writeU16(0);
        switch (r) {
            case CNAMERecord cname -> cname.getTarget().toWire(out, c);
            case SOARecord soa -> {
                soa.getHost().toWire(out, c);
                soa.getAdmin().toWire(out, c);
                out.writeU32(soa.getSerial());
                out.writeU32(soa.getRefresh());
                out.writeU32(soa.getRetry());
                out.writeU32(soa.getExpire());
                out.writeU32(soa.getMinimum());
            }
            default -> out.writeByteArray(r.rdataToWireCanonical()); // A, AAAA: no name inside
        }
        out.writeU16At(out.current() - lengthAt - 2, lengthAt);
    }

    /** The 12-byte header; returns the offset after it. */
    private static int header(byte[] out, WireQuery q, int rcode, int answers, int authority) {
        int p = u16(out, 0, q.id());
        p = u16(out, p, FLAG_QR | (q.opcode() << 11) | (q.flags() & FLAG_RD) | FLAG_RA | (rcode & 0xF));
        p = u16(out, p, 1);
        p = u16(out, p, answers);
        p = u16(out, p, authority);
        return u16(out, p, q.opt() ? 1 : 0);
    }

    /** OPT: the root, type 41, class = UDP size, TTL 0 (extended rcode, version 0, no flags), no options. */
    private static void opt(byte[] out, int p, int optSize) {
        out[p] = 0;
        p = u16(out, p + 1, 41);
        p = u16(out, p, optSize);
        p = u32(out, p, 0);
        u16(out, p, 0);
    }

    private static int u16(byte[] out, int p, int v) {
        out[p] = (byte) (v >>> 8);
        out[p + 1] = (byte) v;
        return p + 2;
    }

    private static int u32(byte[] out, int p, long v) {
        out[p] = (byte) (v >>> 24);
        out[p + 1] = (byte) (v >>> 16);
        out[p + 2] = (byte) (v >>> 8);
        out[p + 3] = (byte) v;
        return p + 4;
    }
}
