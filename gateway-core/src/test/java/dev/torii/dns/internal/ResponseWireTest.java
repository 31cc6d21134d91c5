package dev.torii.dns.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/**
 * Responses written from cached answers without dnsjava are the bytes dnsjava writes for the same response (the one
 * {@code DnsCache} builds: QR, RA, the query's RD, the client's question, records with the served TTL, OPT when asked),
 * compression pointers included, for every request variant and the common answer shapes.
 */
class ResponseWireTest {
    private static final Policy POLICY = new Policy(0, Duration.ofHours(1).toNanos(), 0, 0, 30, 0.8, 0, 0);
    private static final int OPT_SIZE = 1232;

    private static Name n(String s) throws Exception {
        return Name.fromString(s);
    }

    private static Message upstream(String qname, int type, int rcode, Record... records) throws Exception {
        Message m = new Message(7);
        m.getHeader().setFlag(Flags.QR);
        m.getHeader().setRcode(rcode);
        m.addRecord(Record.newRecord(n(qname), type, DClass.IN), Section.QUESTION);
        for (Record r : records) {
            m.addRecord(r, r instanceof SOARecord ? Section.AUTHORITY : Section.ANSWER);
        }
        return m;
    }

    private static Answer answer(String qname, int type, Message upstream) throws Exception {
        Question q = Question.of(n(qname), type);
        return switch (Answer.parse(q, n(qname), upstream, 0, POLICY)) {
            case Answer.Complete c -> c.answer();
            case Answer.FollowCname f -> throw new AssertionError("unfollowed chain");
        };
    }

    private static byte[] query(String clientName, int type, int id, boolean rd, boolean opt) throws Exception {
        Message m = Message.newQuery(Record.newRecord(n(clientName), type, DClass.IN));
        m.getHeader().setID(id);
        if (!rd) {
            m.getHeader().unsetFlag(Flags.RD);
        }
        if (opt) {
            m.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
        }
        return m.toWire();
    }

    /** What DnsCache.response writes: its header, the request's question, the records rendered with {@code ttl}. */
    private static byte[] dnsjava(byte[] queryBytes, Answer answer, long ttl) throws Exception {
        Message request = new Message(queryBytes);
        Message response = new Message(request.getHeader().getID());
        Header h = response.getHeader();
        h.setFlag(Flags.QR);
        h.setFlag(Flags.RA);
        if (request.getHeader().getFlag(Flags.RD)) {
            h.setFlag(Flags.RD);
        }
        h.setOpcode(request.getHeader().getOpcode());
        h.setRcode(answer.rcode());
        response.addRecord(request.getQuestion(), Section.QUESTION);
        if (request.getOPT() != null) {
            response.addRecord(new OPTRecord(OPT_SIZE, 0, 0), Section.ADDITIONAL);
        }
        Answer.Rendered rendered = answer.render(ttl);
        rendered.answer().forEach(r -> response.addRecord(r, Section.ANSWER));
        rendered.authority().forEach(r -> response.addRecord(r, Section.AUTHORITY));
        return response.toWire();
    }

    private static byte[] fast(byte[] queryBytes, Answer answer, long ttl) {
        ByteBuf query = Unpooled.wrappedBuffer(queryBytes);
        WireQuery q = WireQuery.parse(query);
        assertThat(q.kind()).isEqualTo(WireQuery.Kind.FAST);
        return ResponseWire.render(q, query, answer, ttl, OPT_SIZE);
    }

    /** Every variant (RD, EDNS), in the name's letter case and in another, at two TTLs. */
    private static void assertSameAsDnsjava(String qname, int type, Answer answer) throws Exception {
        String mixed = qname.toUpperCase().substring(0, 3) + qname.substring(3);
        int id = 0x1234;
        for (String clientName : List.of(qname, mixed)) {
            for (boolean rd : new boolean[] {true, false}) {
                for (boolean opt : new boolean[] {true, false}) {
                    for (long ttl : new long[] {0, 3599}) {
                        byte[] query = query(clientName, type, id++, rd, opt);
                        byte[] expected = dnsjava(query, answer, ttl);
                        assertThat(fast(query, answer, ttl))
                                .as("%s rd=%s opt=%s ttl=%d", clientName, rd, opt, ttl)
                                .isEqualTo(expected);
                        new Message(expected); // and dnsjava reads it back
                    }
                }
            }
        }
    }

    @Test
    void addressAnswersAreDnsjavasBytes() throws Exception {
        Name name = n("www.example.com.");
        Message one = upstream(
                "www.example.com.",
                Type.A,
                Rcode.NOERROR,
                new ARecord(name, DClass.IN, 300, InetAddress.getByName("10.0.0.1")));
        assertSameAsDnsjava("www.example.com.", Type.A, answer("www.example.com.", Type.A, one));
        Message three = upstream(
                "www.example.com.",
                Type.A,
                Rcode.NOERROR,
                new ARecord(name, DClass.IN, 300, InetAddress.getByName("10.0.0.1")),
                new ARecord(name, DClass.IN, 300, InetAddress.getByName("10.0.0.2")),
                new ARecord(name, DClass.IN, 300, InetAddress.getByName("10.0.0.3")));
        assertSameAsDnsjava("www.example.com.", Type.A, answer("www.example.com.", Type.A, three));
        Message six = upstream(
                "www.example.com.",
                Type.AAAA,
                Rcode.NOERROR,
                new AAAARecord(name, DClass.IN, 60, InetAddress.getByName("2001:db8::1")),
                new AAAARecord(name, DClass.IN, 60, InetAddress.getByName("2001:db8::2")));
        assertSameAsDnsjava("www.example.com.", Type.AAAA, answer("www.example.com.", Type.AAAA, six));
    }

    @Test
    void cnameChainsAreCompressedWhereDnsjavaCompressesThem() throws Exception {
        Message chain = upstream(
                "app.example.com.",
                Type.A,
                Rcode.NOERROR,
                new CNAMERecord(n("app.example.com."), DClass.IN, 300, n("lb.example.com.")),
                new CNAMERecord(n("lb.example.com."), DClass.IN, 300, n("edge.cdn.example.net.")),
                new ARecord(n("edge.cdn.example.net."), DClass.IN, 20, InetAddress.getByName("10.9.9.9")),
                new ARecord(n("edge.cdn.example.net."), DClass.IN, 20, InetAddress.getByName("10.9.9.8")));
        Answer answer = answer("app.example.com.", Type.A, chain);
        assertSameAsDnsjava("app.example.com.", Type.A, answer);
        byte[] query = query("app.example.com.", Type.A, 1, true, false);
        byte[] wire = fast(query, answer, 30);
        // The first owner is a pointer to the question (offset 12), right after it.
        assertThat(new byte[] {wire[query.length], wire[query.length + 1]}).containsExactly(0xC0, 0x0C);
        assertThat(new Message(wire).getSection(Section.ANSWER)).hasSize(4);
    }

    @Test
    void chainsFollowedAcrossQueriesAreDnsjavasBytes() throws Exception {
        Answer target = answer(
                "lb.example.org.",
                Type.A,
                upstream(
                        "lb.example.org.",
                        Type.A,
                        Rcode.NOERROR,
                        new ARecord(n("lb.example.org."), DClass.IN, 60, InetAddress.getByName("10.1.2.3"))));
        Answer chained = Answer.chained(
                Question.of(n("web.example.com."), Type.A),
                List.of(new CNAMERecord(n("web.example.com."), DClass.IN, 60, n("lb.example.org."))),
                60,
                target,
                0,
                POLICY);
        assertSameAsDnsjava("web.example.com.", Type.A, chained);
    }

    @Test
    void negativeAnswersCarryTheirSoaAsDnsjavaWritesIt() throws Exception {
        SOARecord soa = new SOARecord(
                n("example.com."),
                DClass.IN,
                3600,
                n("ns1.example.com."),
                n("hostmaster.example.com."),
                2026,
                3600,
                600,
                86400,
                60);
        Answer nxdomain =
                answer("nope.example.com.", Type.A, upstream("nope.example.com.", Type.A, Rcode.NXDOMAIN, soa));
        assertThat(nxdomain.rcode()).isEqualTo(Rcode.NXDOMAIN);
        assertSameAsDnsjava("nope.example.com.", Type.A, nxdomain);
        Answer nodata =
                answer("www.example.com.", Type.AAAA, upstream("www.example.com.", Type.AAAA, Rcode.NOERROR, soa));
        assertSameAsDnsjava("www.example.com.", Type.AAAA, nodata);
        Answer bare = answer("gone.example.com.", Type.A, upstream("gone.example.com.", Type.A, Rcode.NXDOMAIN));
        assertSameAsDnsjava("gone.example.com.", Type.A, bare);
    }

    @Test
    void otherRecordTypesAreLeftToDnsjava() throws Exception {
        Answer txt = answer(
                "txt.example.com.",
                Type.TXT,
                upstream(
                        "txt.example.com.",
                        Type.TXT,
                        Rcode.NOERROR,
                        new TXTRecord(n("txt.example.com."), DClass.IN, 60, "v=1")));
        assertThat(fast(query("txt.example.com.", Type.TXT, 1, true, true), txt, 60))
                .isNull();
    }
}
