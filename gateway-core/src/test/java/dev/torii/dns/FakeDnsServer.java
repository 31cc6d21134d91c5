package dev.torii.dns;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * An in-process authoritative DNS server on 127.0.0.1 for unit tests: UDP and TCP on one port, answers from a small
 * zone kept in memory (dnsjava {@link Message}s), and knobs that real servers lack: drop every query, hold replies until
 * released, delay them, truncate UDP answers, or answer with any function. It logs what it was asked and counts
 * queries, transports, source ports, IDs and the most queries it held unanswered at once.
 *
 * <p>The zone's SOA has TTL 60 and MINIMUM 7, so negative answers live 7 s (RFC 2308). A name with a CNAME is answered
 * with the chain followed within the zone when {@link #followChains} is on (as a recursive resolver does), or with the
 * CNAME alone when it is off. Thread-safe.
 */
final class FakeDnsServer implements AutoCloseable {
    static final Name ZONE = Name.fromConstantString("test.");
    static final SOARecord SOA = new SOARecord(
            ZONE,
            DClass.IN,
            60,
            Name.fromConstantString("ns.test."),
            Name.fromConstantString("admin.test."),
            1,
            3600,
            600,
            86400,
            7);

    private final ServerSocket tcp;
    private final DatagramSocket udp;
    private final ScheduledExecutorService replies = Executors.newScheduledThreadPool(2, r -> {
        Thread t = new Thread(r, "fake-dns-reply");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, List<Record>> records = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    final List<String> log = new CopyOnWriteArrayList<>();
    final Set<Integer> sourcePorts = ConcurrentHashMap.newKeySet();
    final Set<Integer> ids = ConcurrentHashMap.newKeySet();
    final AtomicInteger udpQueries = new AtomicInteger();
    final AtomicInteger tcpQueries = new AtomicInteger();
    private final AtomicInteger outstanding = new AtomicInteger();
    final AtomicInteger maxOutstanding = new AtomicInteger();
    private final List<Runnable> held = new ArrayList<>();

    volatile boolean drop;
    volatile boolean truncateUdp;
    volatile boolean followChains = true;
    volatile long delayMillis;
    private boolean holding;
    volatile Function<Message, Message> responder;

    FakeDnsServer() {
        try {
            ServerSocket t = null;
            DatagramSocket u = null;
            for (int attempt = 0; attempt < 20 && u == null; attempt++) {
                t = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                try {
                    u = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), t.getLocalPort()));
                } catch (IOException e) {
                    t.close();
                }
            }
            if (u == null) {
                throw new IOException("no port free for both UDP and TCP");
            }
            this.tcp = t;
            this.udp = u;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread.ofPlatform().daemon().name("fake-dns-udp").start(this::serveUdp);
        Thread.ofPlatform().daemon().name("fake-dns-tcp").start(this::serveTcp);
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), tcp.getLocalPort());
    }

    /** Adds a record to the zone (names are absolute, like {@code "a.test."}). */
    FakeDnsServer add(Record r) {
        records.computeIfAbsent(key(r.getName(), r.getType()), k -> new CopyOnWriteArrayList<>())
                .add(r);
        return this;
    }

    FakeDnsServer a(String name, long ttl, String... addresses) {
        for (String a : addresses) {
            add(new ARecord(name(name), DClass.IN, ttl, InetAddress.ofLiteral(a)));
        }
        return this;
    }

    FakeDnsServer aaaa(String name, long ttl, String... addresses) {
        for (String a : addresses) {
            add(new AAAARecord(name(name), DClass.IN, ttl, InetAddress.ofLiteral(a)));
        }
        return this;
    }

    FakeDnsServer cname(String name, long ttl, String target) {
        return add(new CNAMERecord(name(name), DClass.IN, ttl, name(target)));
    }

    FakeDnsServer srv(String name, long ttl, int priority, int weight, int port, String target) {
        return add(new SRVRecord(name(name), DClass.IN, ttl, priority, weight, port, name(target)));
    }

    /** Removes every record of {@code name} (all types). */
    void remove(String name) {
        String prefix = name(name).toString().toLowerCase(Locale.ROOT) + "/";
        records.keySet().removeIf(k -> k.startsWith(prefix));
    }

    /** Queries received for {@code name} (absolute) and {@code type}, over UDP and TCP. */
    int queries(String name, int type) {
        AtomicInteger c = counts.get(key(name(name), type));
        return c == null ? 0 : c.get();
    }

    int totalQueries() {
        return udpQueries.get() + tcpQueries.get();
    }

    /** From now on replies wait until {@link #release()}. */
    synchronized void hold() {
        holding = true;
    }

    /** Sends every held reply and stops holding. */
    void release() {
        List<Runnable> out;
        synchronized (this) {
            holding = false;
            out = new ArrayList<>(held);
            held.clear();
        }
        out.forEach(Runnable::run);
    }

    synchronized int heldReplies() {
        return held.size();
    }

    private void serveUdp() {
        byte[] buffer = new byte[65_535];
        while (!udp.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buffer, buffer.length);
                udp.receive(p);
                udpQueries.incrementAndGet();
                sourcePorts.add(p.getPort());
                Message query = new Message(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                InetSocketAddress client = (InetSocketAddress) p.getSocketAddress();
                handle(query, response -> {
                    byte[] wire = response.toWire();
                    if (truncateUdp || wire.length > 512 && query.getOPT() == null) {
                        Message tc = new Message(response.getHeader().getID());
                        tc.getHeader().setFlag(Flags.QR);
                        tc.getHeader().setFlag(Flags.TC);
                        tc.addRecord(query.getQuestion(), Section.QUESTION);
                        wire = tc.toWire();
                    }
                    try {
                        udp.send(new DatagramPacket(wire, wire.length, client));
                    } catch (IOException e) {
                        // closed meanwhile
                    }
                });
            } catch (IOException e) {
                if (udp.isClosed()) {
                    return;
                }
            }
        }
    }

    private void serveTcp() {
        while (!tcp.isClosed()) {
            try {
                Socket s = tcp.accept();
                Thread.ofPlatform().daemon().name("fake-dns-tcp-conn").start(() -> serveConnection(s));
            } catch (IOException e) {
                if (tcp.isClosed()) {
                    return;
                }
            }
        }
    }

    private void serveConnection(Socket s) {
        try (s) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            while (true) {
                int length = in.readUnsignedShort();
                byte[] wire = in.readNBytes(length);
                tcpQueries.incrementAndGet();
                Message query = new Message(wire);
                Object lock = new Object();
                handle(query, response -> {
                    byte[] bytes = response.toWire();
                    synchronized (lock) {
                        try {
                            out.writeShort(bytes.length);
                            out.write(bytes);
                            out.flush();
                        } catch (IOException e) {
                            // client gone
                        }
                    }
                });
            }
        } catch (IOException e) {
            // EOF or closed: the connection ends
        }
    }

    private void handle(Message query, java.util.function.Consumer<Message> send) {
        Record q = query.getQuestion();
        ids.add(query.getHeader().getID());
        log.add(q.getName().toString(true).toLowerCase(Locale.ROOT) + " " + Type.string(q.getType()));
        counts.computeIfAbsent(key(q.getName(), q.getType()), k -> new AtomicInteger())
                .incrementAndGet();
        if (drop) {
            return;
        }
        int now = outstanding.incrementAndGet();
        maxOutstanding.accumulateAndGet(now, Math::max);
        Function<Message, Message> custom = responder;
        Message response = custom != null ? custom.apply(query) : answer(query);
        Runnable reply = () -> {
            outstanding.decrementAndGet();
            send.accept(response);
        };
        synchronized (this) {
            if (holding) {
                held.add(reply);
                return;
            }
        }
        long delay = delayMillis;
        if (delay > 0) {
            replies.schedule(reply, delay, TimeUnit.MILLISECONDS);
        } else {
            reply.run();
        }
    }

    /** The zone's answer: records, a CNAME chain, NODATA or NXDOMAIN with the SOA. */
    Message answer(Message query) {
        Record q = query.getQuestion();
        Message r = reply(query, Rcode.NOERROR);
        Name name = q.getName();
        for (int hops = 0; hops < 20; hops++) {
            List<Record> data = records.get(key(name, q.getType()));
            if (data != null) {
                data.forEach(d -> r.addRecord(d, Section.ANSWER));
                return r;
            }
            List<Record> cname = records.get(key(name, Type.CNAME));
            if (cname == null) {
                break;
            }
            r.addRecord(cname.getFirst(), Section.ANSWER);
            name = ((CNAMERecord) cname.getFirst()).getTarget();
            if (!followChains) {
                return r;
            }
        }
        Name last = name;
        boolean exists = records.keySet().stream()
                .anyMatch(k -> k.startsWith(key(last, 0).replace("/0", "/")));
        if (!exists) {
            r.getHeader().setRcode(Rcode.NXDOMAIN);
        }
        r.addRecord(SOA, Section.AUTHORITY);
        return r;
    }

    static Message reply(Message query, int rcode) {
        Message r = new Message(query.getHeader().getID());
        r.getHeader().setFlag(Flags.QR);
        r.getHeader().setFlag(Flags.AA);
        if (query.getHeader().getFlag(Flags.RD)) {
            r.getHeader().setFlag(Flags.RD);
        }
        r.getHeader().setRcode(rcode);
        r.addRecord(query.getQuestion(), Section.QUESTION);
        return r;
    }

    private static String key(Name name, int type) {
        return name.toString().toLowerCase(Locale.ROOT) + "/" + type;
    }

    static Name name(String s) {
        return Name.fromConstantString(s.endsWith(".") ? s : s + ".");
    }

    /** Stops answering: both sockets close, so UDP queries meet a closed port. */
    void stop() {
        try {
            udp.close();
            tcp.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        stop();
        replies.shutdownNow();
    }
}
