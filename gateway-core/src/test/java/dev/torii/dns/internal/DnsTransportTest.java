package dev.torii.dns.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.testing.UnboundServer;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The Netty upstream transport against hostile fakes (answers with a wrong ID, a wrong question, or from another port,
 * which must be ignored; a truncated answer, retried over TCP; pipelined answers out of order on one kept TCP
 * connection) and against a real unbound over UDP and TCP.
 */
class DnsTransportTest {
    private static final long TIMEOUT = TimeUnit.SECONDS.toNanos(10);
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closeables.reversed()) {
            c.close();
        }
    }

    private DnsTransport transport(InetSocketAddress server) {
        DnsTransport t = new DnsTransport(1232);
        closeables.add(t);
        t.addServer(server);
        return t;
    }

    private static UpstreamQuery query(String name) throws Exception {
        return UpstreamQuery.of(new Question(name, Type.A), 1232);
    }

    private static Message answer(Message query, int id, String name, String ip) throws Exception {
        Message m = new Message(id);
        m.getHeader().setFlag(Flags.QR);
        m.getHeader().setFlag(Flags.RD);
        Name n = Name.fromString(name + ".");
        m.addRecord(Record.newRecord(n, Type.A, DClass.IN), Section.QUESTION);
        m.addRecord(new ARecord(n, DClass.IN, 30, InetAddress.getByName(ip)), Section.ANSWER);
        return m;
    }

    private static String firstAddress(Message m) {
        return ((ARecord) m.getSection(Section.ANSWER).getFirst()).getAddress().getHostAddress();
    }

    @Test
    void answersWithTheWrongIdTheWrongQuestionOrFromAnotherPortAreIgnored() throws Exception {
        DatagramSocket server = new DatagramSocket(0, InetAddress.getLoopbackAddress());
        DatagramSocket other = new DatagramSocket(0, InetAddress.getLoopbackAddress());
        closeables.add(server);
        closeables.add(other);
        Thread fake = Thread.ofPlatform().daemon().start(() -> {
            try {
                byte[] buf = new byte[1500];
                DatagramPacket in = new DatagramPacket(buf, buf.length);
                server.receive(in);
                Message q = new Message(java.util.Arrays.copyOf(in.getData(), in.getLength()));
                int id = q.getHeader().getID();
                var client = in.getSocketAddress();
                // Three forgeries first, then the real answer: only the last may be taken.
                send(server, answer(q, (id + 1) & 0xFFFF, "a.test", "10.0.0.1"), client);
                send(server, answer(q, id, "b.test", "10.0.0.2"), client);
                send(other, answer(q, id, "a.test", "10.0.0.3"), client);
                send(server, answer(q, id, "a.test", "10.0.0.4"), client);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        DnsTransport t = transport((InetSocketAddress) server.getLocalSocketAddress());
        CompletableFuture<Message> f =
                t.send((InetSocketAddress) server.getLocalSocketAddress(), query("a.test"), false, TIMEOUT);
        assertThat(firstAddress(f.get(10, TimeUnit.SECONDS))).isEqualTo("10.0.0.4");
        fake.join(10_000);
        // The forgery from the other port may be filtered by the kernel (the socket is connected) or by us.
        assertThat(t.dropped()).isBetween(2L, 3L);
    }

    @Test
    void udpSocketsAreReplacedByFreshOnesOnNewPortsAfterSoManyQueriesWhileEveryQueryIsAnswered() throws Exception {
        DatagramSocket server = new DatagramSocket(0, InetAddress.getLoopbackAddress());
        closeables.add(server);
        java.util.Set<Integer> ports = java.util.concurrent.ConcurrentHashMap.newKeySet();
        Thread fake = Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[1500];
            try {
                while (!server.isClosed()) {
                    DatagramPacket in = new DatagramPacket(buf, buf.length);
                    server.receive(in);
                    ports.add(in.getPort());
                    Message q = new Message(java.util.Arrays.copyOf(in.getData(), in.getLength()));
                    send(server, answer(q, q.getHeader().getID(), "r.test", "10.0.0.9"), in.getSocketAddress());
                }
            } catch (Exception closed) {
                // the test closed the socket
            }
        });
        InetSocketAddress at = (InetSocketAddress) server.getLocalSocketAddress();
        DnsTransport t = transport(at);
        // 1.5x the pool's total: each socket is picked 1,500 times on average (binomial, standard deviation about
        // 38), so every one passes its rotation point but for a chance far below 1e-9.
        int queries = 3 * DnsTransport.UDP_SOCKETS * DnsTransport.ROTATE_AFTER / 2;
        for (int sent = 0; sent < queries; sent += 200) {
            List<CompletableFuture<Message>> batch = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                batch.add(t.send(at, query("r.test"), false, TIMEOUT));
            }
            for (CompletableFuture<Message> f : batch) {
                assertThat(firstAddress(f.get(10, TimeUnit.SECONDS))).isEqualTo("10.0.0.9");
            }
        }
        server.close();
        fake.join(10_000);
        assertThat(t.rotated()).isPositive();
        assertThat(ports).hasSizeGreaterThan(DnsTransport.UDP_SOCKETS);
    }

    private static void send(DatagramSocket s, Message m, java.net.SocketAddress to) throws Exception {
        byte[] wire = m.toWire();
        s.send(new DatagramPacket(wire, wire.length, to));
    }

    @Test
    void aTruncatedAnswerIsAskedAgainOverOneKeptTcpConnectionWhereQueriesArePipelined() throws Exception {
        ServerSocket tcp = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        DatagramSocket udp = new DatagramSocket(tcp.getLocalPort(), InetAddress.getLoopbackAddress());
        closeables.add(tcp);
        closeables.add(udp);
        AtomicInteger accepted = new AtomicInteger();
        Thread udpFake = Thread.ofPlatform().daemon().start(() -> {
            try {
                byte[] buf = new byte[1500];
                DatagramPacket in = new DatagramPacket(buf, buf.length);
                udp.receive(in);
                Message q = new Message(java.util.Arrays.copyOf(in.getData(), in.getLength()));
                Message tc = new Message(q.getHeader().getID());
                tc.getHeader().setFlag(Flags.QR);
                tc.getHeader().setFlag(Flags.TC);
                tc.addRecord(q.getQuestion(), Section.QUESTION);
                send(udp, tc, in.getSocketAddress());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread tcpFake = Thread.ofPlatform().daemon().start(() -> {
            try (Socket c = tcp.accept()) {
                accepted.incrementAndGet();
                var in = new DataInputStream(c.getInputStream());
                var out = new DataOutputStream(c.getOutputStream());
                // Reads the three queries (the truncated one, then two pipelined) and answers them in reverse order.
                List<Message> queries = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    byte[] q = new byte[in.readUnsignedShort()];
                    in.readFully(q);
                    queries.add(new Message(q));
                }
                for (Message q : queries.reversed()) {
                    String name = q.getQuestion().getName().toString(true);
                    byte[] a = answer(q, q.getHeader().getID(), name, "10.1.0." + name.charAt(0))
                            .toWire();
                    out.writeShort(a.length);
                    out.write(a);
                }
                out.flush();
                in.read(); // holds the connection open until the transport closes it
            } catch (Exception e) {
                // the transport closed the connection
            }
        });
        InetSocketAddress at = (InetSocketAddress) tcp.getLocalSocketAddress();
        DnsTransport t = transport(at);
        CompletableFuture<Message> truncated = t.send(at, query("1.test"), false, TIMEOUT);
        udpFake.join(10_000);
        // Once the connection is up (the truncated query is on it), two more queries go over it, pipelined.
        while (accepted.get() == 0) {
            Thread.onSpinWait();
        }
        CompletableFuture<Message> second = t.send(at, query("2.test"), true, TIMEOUT);
        CompletableFuture<Message> third = t.send(at, query("3.test"), true, TIMEOUT);
        assertThat(firstAddress(truncated.get(10, TimeUnit.SECONDS))).isEqualTo("10.1.0.1");
        assertThat(firstAddress(second.get(10, TimeUnit.SECONDS))).isEqualTo("10.1.0.2");
        assertThat(firstAddress(third.get(10, TimeUnit.SECONDS))).isEqualTo("10.1.0.3");
        assertThat(t.truncated()).isEqualTo(1);
        assertThat(accepted.get()).isEqualTo(1);
        t.close();
        tcpFake.join(10_000);
    }

    @Test
    void unboundAnswersOverUdpAndOverAKeptTcpConnection() throws Exception {
        UnboundServer unbound = UnboundServer.start(List.of(
                "local-zone: \"t.test.\" static",
                "local-data: \"t.test. 3600 IN SOA ns.t.test. admin.t.test. 1 3600 600 86400 5\"",
                "local-data: \"x.t.test. 30 IN A 10.7.0.1\""));
        closeables.add(unbound);
        DnsTransport t = transport(unbound.address());
        assertThat(firstAddress(t.send(unbound.address(), query("x.t.test"), false, TIMEOUT)
                        .get(10, TimeUnit.SECONDS)))
                .isEqualTo("10.7.0.1");
        List<CompletableFuture<Message>> overTcp = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            overTcp.add(t.send(unbound.address(), query("x.t.test"), true, TIMEOUT));
        }
        for (var f : overTcp) {
            assertThat(firstAddress(f.get(10, TimeUnit.SECONDS))).isEqualTo("10.7.0.1");
        }
        assertThat(t.toString()).contains("1 TCP connections");
        assertThat(t.dropped()).isZero();
    }

    @Test
    void aServerThatIsDownFailsTheQueryAtOnceInsteadOfTimingOut() throws Exception {
        int port;
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        InetSocketAddress down = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        DnsTransport t = transport(down);
        CompletableFuture<Message> f = t.send(down, query("a.test"), false, TimeUnit.HOURS.toNanos(1));
        assertThat(f)
                .failsWithin(10, TimeUnit.SECONDS)
                .withThrowableThat()
                .withMessageContaining("refused (ICMP port unreachable)");
    }
}
