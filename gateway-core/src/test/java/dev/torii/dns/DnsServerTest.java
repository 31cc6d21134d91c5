package dev.torii.dns;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * {@link DnsServer}'s framing and edge cases with in-process clients (plain JDK sockets) and an in-process upstream.
 * {@link DnsServerUnboundTest} runs dig against it in front of a real unbound.
 */
class DnsServerTest {
    private final FakeDnsServer upstream = new FakeDnsServer();
    private final List<AutoCloseable> closeables = new ArrayList<>(List.of(upstream));

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        System.clearProperty("torii.dns.fastPath");
    }

    private DnsServer start(DnsServer.Builder b) {
        DnsServer s = b.address("127.0.0.1:0").ioThreads(1).build().start();
        closeables.add(s);
        return s;
    }

    private DnsCache cache() {
        DnsCache c = DnsCache.builder()
                .upstreams(List.of(upstream.address()))
                .queryTimeout(Duration.ofSeconds(2))
                .build();
        closeables.add(c);
        return c;
    }

    private static Message query(String name, int type) {
        return Message.newQuery(Record.newRecord(FakeDnsServer.name(name), type, DClass.IN));
    }

    private static byte[] udp(DnsServer server, byte[] query) throws IOException {
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            s.setSoTimeout(2_000);
            s.send(new DatagramPacket(query, query.length, server.address()));
            byte[] buf = new byte[65_535];
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            s.receive(p);
            return java.util.Arrays.copyOf(buf, p.getLength());
        }
    }

    private static boolean udpAnswered(DnsServer server, byte[] query) throws IOException {
        try {
            udp(server, query);
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    @Test
    void datagramsShorterThanAHeaderAreDroppedAndCountedMalformed() throws Exception {
        DnsServer server = start(DnsServer.builder(cache()));
        assertThat(udpAnswered(server, new byte[] {1, 2, 3, 4, 5})).isFalse();
        assertThat(server.stats().malformed()).isEqualTo(1);
    }

    @Test
    void anUnparsableQuestionIsFormerrWithTheQueryId() throws Exception {
        DnsServer server = start(DnsServer.builder(cache()));
        byte[] garbage = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a', 'b'};
        Message response = new Message(udp(server, garbage));
        assertThat(response.getHeader().getID()).isEqualTo(0x1234);
        assertThat(response.getRcode()).isEqualTo(Rcode.FORMERR);
        assertThat(response.getHeader().getFlag(Flags.QR)).isTrue();
        assertThat(server.stats().malformed()).isEqualTo(1);
        assertThat(server.stats().responses("FORMERR")).isEqualTo(1);
    }

    @Test
    void responsesAreNeverAnswered() throws Exception {
        DnsServer server = start(DnsServer.builder(cache()));
        Message fake = query("a.test", Type.A);
        fake.getHeader().setFlag(Flags.QR);
        assertThat(udpAnswered(server, fake.toWire())).isFalse();
        assertThat(server.stats().dropped()).isEqualTo(1);
    }

    @Test
    void otherOpcodesAreNotImplemented() throws Exception {
        DnsServer server = start(DnsServer.builder(cache()));
        Message notify = query("a.test", Type.SOA);
        notify.getHeader().setOpcode(Opcode.NOTIFY);
        assertThat(new Message(udp(server, notify.toWire())).getRcode()).isEqualTo(Rcode.NOTIMP);
    }

    @Test
    void ednsIsEchoedAndAnUnknownEdnsVersionIsBadvers() throws Exception {
        upstream.a("a.test.", 60, "10.0.0.1");
        DnsServer server = start(DnsServer.builder(cache()));
        Message plain = new Message(udp(server, query("a.test", Type.A).toWire()));
        assertThat(plain.getOPT()).isNull();
        assertThat(plain.getSection(Section.ANSWER)).hasSize(1);

        Message edns = query("a.test", Type.A);
        edns.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
        Message withOpt = new Message(udp(server, edns.toWire()));
        assertThat(withOpt.getOPT()).isNotNull();
        assertThat(withOpt.getSection(Section.ANSWER)).hasSize(1);

        Message v1 = query("a.test", Type.A);
        v1.addRecord(new OPTRecord(4096, 0, 1), Section.ADDITIONAL);
        assertThat(new Message(udp(server, v1.toWire())).getRcode()).isEqualTo(Rcode.BADVERS);
    }

    @Test
    void theFastPathAnswersHitsExactlyAsDnsjavaWould() throws Exception {
        upstream.a("a.test.", 60, "10.0.0.1", "10.0.0.2").cname("c.test.", 60, "a.test.");
        DnsCache cache = cache();
        DnsServer fast = start(DnsServer.builder(cache));
        System.setProperty("torii.dns.fastPath", "false");
        DnsServer slow = start(DnsServer.builder(cache).name("slow"));
        for (String name : List.of("a.test", "c.test", "nothing.test")) {
            Message q = query(name, Type.A);
            q.addRecord(new OPTRecord(1232, 0, 0), Section.ADDITIONAL);
            udp(fast, q.toWire()); // fills the cache
            Message viaFast = new Message(udp(fast, q.toWire()));
            Message viaSlow = new Message(udp(slow, q.toWire()));
            assertThat(viaFast.getHeader().getID()).isEqualTo(q.getHeader().getID());
            assertThat(viaFast.toString()).isEqualTo(viaSlow.toString());
        }
    }

    @Test
    void severalQueriesOnOneTcpConnectionAreAllAnsweredByTheirIds() throws Exception {
        upstream.a("a.test.", 60, "10.0.0.1").a("b.test.", 60, "10.0.0.2");
        DnsServer server = start(DnsServer.builder(cache()));
        try (Socket s =
                new Socket(server.address().getAddress(), server.address().getPort())) {
            s.setSoTimeout(3_000);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            Set<Integer> ids = new HashSet<>();
            // Three messages in one write, the last split across two writes.
            java.io.ByteArrayOutputStream batch = new java.io.ByteArrayOutputStream();
            DataOutputStream b = new DataOutputStream(batch);
            for (String name : List.of("a.test", "b.test", "a.test")) {
                byte[] wire = query(name, Type.A).toWire();
                ids.add(new Message(wire).getHeader().getID());
                b.writeShort(wire.length);
                b.write(wire);
            }
            byte[] all = batch.toByteArray();
            out.write(all, 0, all.length - 5);
            out.flush();
            Thread.sleep(50); // the server must wait for the rest of the frame
            out.write(all, all.length - 5, 5);
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            Set<Integer> answered = new HashSet<>();
            for (int i = 0; i < 3; i++) {
                byte[] response = new byte[in.readUnsignedShort()];
                in.readFully(response);
                Message m = new Message(response);
                assertThat(m.getRcode()).isEqualTo(Rcode.NOERROR);
                assertThat(m.getSection(Section.ANSWER)).hasSize(1);
                answered.add(m.getHeader().getID());
            }
            assertThat(answered).isEqualTo(ids);
        }
        assertThat(server.stats().tcpQueries()).isEqualTo(3);
    }

    @Test
    void anIdleTcpConnectionIsClosed() throws Exception {
        DnsServer server = start(DnsServer.builder(cache()).tcpIdleTimeout(Duration.ofMillis(200)));
        try (Socket s =
                new Socket(server.address().getAddress(), server.address().getPort())) {
            s.setSoTimeout(5_000);
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
    }

    @Test
    void tcpConnectionsOverTheLimitAreClosedAtOnce() throws Exception {
        DnsServer server = start(DnsServer.builder(cache()).maxTcpConnections(1));
        try (Socket first = new Socket(
                        server.address().getAddress(), server.address().getPort());
                Socket second = new Socket(
                        server.address().getAddress(), server.address().getPort())) {
            second.setSoTimeout(5_000);
            InputStream in = second.getInputStream();
            assertThat(in.read()).isEqualTo(-1);
            assertThat(server.stats().tcpRejected()).isEqualTo(1);
            assertThat(server.stats().tcpConnections()).isEqualTo(1);
            assertThat(first.isClosed()).isFalse();
        }
    }

    @Test
    void queriesBeyondMaxPendingAreDroppedWhileUpstreamIsSlow() throws Exception {
        upstream.a("a.test.", 60, "10.0.0.1").a("b.test.", 60, "10.0.0.2");
        DnsServer server = start(DnsServer.builder(cache()).maxPendingQueries(1));
        upstream.hold();
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            s.setSoTimeout(3_000);
            byte[] a = query("a.test", Type.A).toWire();
            byte[] b = query("b.test", Type.A).toWire();
            s.send(new DatagramPacket(a, a.length, server.address()));
            while (upstream.udpQueries.get() + upstream.tcpQueries.get() == 0) {
                Thread.sleep(5);
            }
            s.send(new DatagramPacket(b, b.length, server.address()));
            while (server.stats().dropped() == 0) {
                Thread.sleep(5);
            }
            upstream.release();
            byte[] buf = new byte[512];
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            s.receive(p);
            assertThat(new Message(java.util.Arrays.copyOf(buf, p.getLength()))
                            .getHeader()
                            .getID())
                    .isEqualTo(new Message(a).getHeader().getID());
        }
        assertThat(server.stats().dropped()).isEqualTo(1);
    }

    @Test
    void aLookupThatFailsAtOnceIsServfailNotSilence() throws Exception {
        DnsCache cache = cache();
        DnsServer server = start(DnsServer.builder(cache));
        cache.close(); // every lookup now fails at once with CLOSED
        Message q = query("a.test", Type.A);
        Message response = new Message(udp(server, q.toWire()));
        assertThat(response.getRcode()).isEqualTo(Rcode.SERVFAIL);
        assertThat(response.getHeader().getID()).isEqualTo(q.getHeader().getID());
        assertThat(response.getQuestion()).isEqualTo(q.getQuestion());
    }

    @Test
    void aSecondServerOnTheSameAddressFailsWithTheAddressInTheMessage() {
        DnsCache cache = cache();
        DnsServer first = start(DnsServer.builder(cache));
        DnsServer.Builder again = DnsServer.builder(cache)
                .address("127.0.0.1:" + first.address().getPort())
                .ioThreads(1);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> again.build().start())
                .hasMessageContaining("cannot bind 127.0.0.1:" + first.address().getPort());
    }

    @Test
    void theBuilderNamesTheWrongValue() {
        DnsCache cache = cache();
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> DnsServer.builder(cache).address("localhost:53").build())
                .hasMessage(
                        "address: 'localhost:53' (expected: an IP address and a port, like 169.254.20.10:53 or [::1]:5353)");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> DnsServer.builder(cache).ioThreads(0).build())
                .hasMessage("ioThreads: 0 (expected: > 0)");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DnsRateLimit.of(0, Duration.ofSeconds(1)))
                .hasMessage("rate: 0 (expected: > 0)");
    }
}
