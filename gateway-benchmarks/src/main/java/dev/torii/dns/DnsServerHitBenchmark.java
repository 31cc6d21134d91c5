package dev.torii.dns;

import dev.torii.dns.internal.QueryResponder;
import dev.torii.dns.internal.ServerCounters;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The DNS server mode's work for one cache hit, without the sockets: query bytes in, response bytes out, as a
 * {@link DnsServer}'s event loop does it for each datagram (in package {@code dev.torii.dns} for the cache's
 * package-private server access). The answer comes once, in {@code @Setup}, from a tiny in-process UDP responder;
 * setup and teardown check that the benchmarks never reach it.
 *
 * <ul>
 *   <li>{@code fastPath}: the query read from its bytes, the cached wire rendering copied, ID and question patched.
 *   <li>{@code dnsjavaPath}: the same query through dnsjava ({@code -Dtorii.dns.fastPath=false}): parse, {@link
 *       DnsCache#query}, {@code toWire}.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DnsServerHitBenchmark {
    private static final InetAddress CLIENT = InetAddress.getLoopbackAddress();
    private static final ByteBufAllocator ALLOC = PooledByteBufAllocator.DEFAULT;

    DatagramSocket responder;
    DnsCache cache;
    QueryResponder fast;
    QueryResponder dnsjava;
    ByteBuf query;
    long upstreamQueries;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        responder = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread.ofPlatform().daemon().start(this::answer);
        cache = DnsCache.builder()
                .upstreams(List.of((InetSocketAddress) responder.getLocalSocketAddress()))
                .maxTtl(Duration.ofHours(1))
                .refreshAheadAt(1.0)
                .build();
        fast = new QueryResponder(cache.serverAccess(), new ServerCounters(), null, 1_000, true);
        dnsjava = new QueryResponder(cache.serverAccess(), new ServerCounters(), null, 1_000, false);
        Message q = Message.newQuery(Record.newRecord(Name.fromString("backend.internal."), Type.A, DClass.IN));
        q.addRecord(new OPTRecord(1232, 0, 0), Section.ADDITIONAL);
        query = Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(q.toWire()));
        cache.query(q).get(5, TimeUnit.SECONDS);
        upstreamQueries = cache.stats().upstreamQueries();
        for (QueryResponder r : List.of(fast, dnsjava)) {
            ByteBuf response = r.respond(query, CLIENT, false, ALLOC, b -> b.release());
            if (response == null || response == QueryResponder.PENDING || response.readableBytes() < 40) {
                throw new IllegalStateException("a benchmarked query is not answered from the cache at once");
            }
            response.release();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        long now = cache.stats().upstreamQueries();
        cache.close();
        responder.close();
        if (now != upstreamQueries) {
            throw new IllegalStateException("the benchmark reached the upstream: " + (now - upstreamQueries));
        }
    }

    @Benchmark
    public int fastPath() {
        return respond(fast);
    }

    @Benchmark
    public int dnsjavaPath() {
        return respond(dnsjava);
    }

    private int respond(QueryResponder responder) {
        ByteBuf response = responder.respond(query, CLIENT, false, ALLOC, b -> b.release());
        int n = response.readableBytes();
        response.release();
        return n;
    }

    /** Answers every question with A 10.0.0.1, TTL 1 h. */
    private void answer() {
        byte[] buffer = new byte[4096];
        while (!responder.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buffer, buffer.length);
                responder.receive(p);
                Message q = new Message(Arrays.copyOf(p.getData(), p.getLength()));
                Message r = new Message(q.getHeader().getID());
                r.getHeader().setFlag(Flags.QR);
                r.getHeader().setFlag(Flags.RA);
                r.addRecord(q.getQuestion(), Section.QUESTION);
                r.addRecord(
                        new ARecord(q.getQuestion().getName(), DClass.IN, 3600, InetAddress.ofLiteral("10.0.0.1")),
                        Section.ANSWER);
                byte[] wire = r.toWire();
                responder.send(new DatagramPacket(wire, wire.length, p.getSocketAddress()));
            } catch (IOException e) {
                // closed
            }
        }
    }
}
