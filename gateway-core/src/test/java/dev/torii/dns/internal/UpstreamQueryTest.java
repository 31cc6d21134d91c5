package dev.torii.dns.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/** The upstream query written without dnsjava is dnsjava's, byte for byte, and answers are matched on their bytes. */
class UpstreamQueryTest {

    private static byte[] dnsjava(String name, int type, int edns, int id) throws Exception {
        Message m = Message.newQuery(Record.newRecord(Name.fromString(name + "."), type, DClass.IN));
        m.getHeader().setID(id);
        if (edns > 0) {
            m.addRecord(new OPTRecord(edns, 0, 0), Section.ADDITIONAL);
        }
        return m.toWire();
    }

    private static byte[] fast(String name, int type, int edns, int id) throws Exception {
        UpstreamQuery q = UpstreamQuery.of(new Question(name, type), edns);
        ByteBuf out = Unpooled.buffer();
        try {
            q.write(out, id);
            assertThat(out.readableBytes()).isEqualTo(q.length());
            return ByteBufUtil.getBytes(out);
        } finally {
            out.release();
        }
    }

    @Test
    void queriesAreDnsjavasBytesWithAndWithoutEdns() throws Exception {
        for (String name :
                new String[] {"a", "www.example.com", "q123.r1.torii.miss.bench.test", "_http._tcp.svc.test"}) {
            for (int type : new int[] {Type.A, Type.AAAA, Type.SRV, Type.TXT, Type.CNAME}) {
                for (int edns : new int[] {0, 512, 1232, 4096}) {
                    int id = (name.length() * 7919 + type * 31 + edns) & 0xFFFF;
                    assertThat(fast(name, type, edns, id))
                            .as("%s %s edns %d", name, Type.string(type), edns)
                            .isEqualTo(dnsjava(name, type, edns, id));
                }
            }
        }
    }

    @Test
    void escapedAndLongestNamesAreDnsjavas() throws Exception {
        String label63 = "x".repeat(63);
        String longest = String.join(".", label63, label63, label63, "y".repeat(61)); // 255 bytes in wire format
        assertThat(fast(longest, Type.A, 1232, 9)).isEqualTo(dnsjava(longest, Type.A, 1232, 9));
        String escaped = "a\\032b.test"; // as Name.toString prints a space in a label
        assertThat(fast(escaped, Type.A, 0, 10)).isEqualTo(dnsjava(escaped, Type.A, 0, 10));
        assertThat(UpstreamQuery.wireName("")).containsExactly(0);
        assertThat(UpstreamQuery.wireName("test."))
                .isEqualTo(Name.fromString("test.").toWire());
    }

    @Test
    void namesDnsCannotCarryAreRefusedAsDnsjavaRefusesThem() {
        String label64 = "x".repeat(64);
        String tooLong = String.join(".", "x".repeat(63), "x".repeat(63), "x".repeat(63), "y".repeat(62));
        for (String bad : new String[] {label64 + ".test", tooLong, "a..b"}) {
            assertThatThrownBy(() -> UpstreamQuery.wireName(bad)).isInstanceOf(TextParseException.class);
            assertThatThrownBy(() -> Name.fromString(bad + ".")).isInstanceOf(TextParseException.class);
        }
    }

    @Test
    void anAnswerMatchesOnlyItsOwnQuestionInAnyLetterCase() throws Exception {
        UpstreamQuery q = UpstreamQuery.of(new Question("www.example.com", Type.A), 1232);
        assertThat(q.asked(answer("WwW.ExAmPlE.cOm", Type.A))).isTrue();
        assertThat(q.asked(answer("www.example.com", Type.A))).isTrue();
        assertThat(q.asked(answer("www.example.org", Type.A))).isFalse();
        assertThat(q.asked(answer("www.example.com", Type.AAAA))).isFalse();
        assertThat(q.asked(answer("ww.example.com", Type.A))).isFalse();
        assertThat(q.asked(Unpooled.wrappedBuffer(new byte[12]))).isFalse();
    }

    private static ByteBuf answer(String name, int type) throws Exception {
        Name n = Name.fromString(name + ".");
        Message m = new Message(1);
        m.getHeader().setFlag(Flags.QR);
        m.addRecord(Record.newRecord(n, type, DClass.IN), Section.QUESTION);
        m.addRecord(new ARecord(n, DClass.IN, 30, InetAddress.getByName("10.0.0.1")), Section.ANSWER);
        return Unpooled.wrappedBuffer(m.toWire());
    }
}
