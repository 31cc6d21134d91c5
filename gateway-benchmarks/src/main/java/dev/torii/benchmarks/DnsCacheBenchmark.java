package dev.torii.benchmarks;

import dev.torii.dns.DnsCache;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
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
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * {@link DnsCache} lookups that the cache answers itself: what an upstream endpoint written as a host name costs per
 * request once its name is cached. The answers come once, in {@code @Setup}, from a tiny in-process UDP responder
 * (A 10.0.0.1 with TTL 1 h; no AAAA, negative TTL 1 h); the benchmarks never reach it, which setup checks.
 *
 * <ul>
 *   <li>{@code resolveCached}: {@code resolve("backend.internal")}, no search list: two cache reads (A and AAAA), a
 *       completed future.
 *   <li>{@code resolveCachedViaSearchList}: {@code resolve("backend")} with a Kubernetes pod's search list and
 *       {@code ndots:5}, found in the first search domain.
 *   <li>{@code queryCached}: {@code query(Message)} for {@code backend.internal. A}, the DNS server mode's per-query
 *       work without the wire encoding: a cache read and a response message with the remaining TTL.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DnsCacheBenchmark {
    DatagramSocket responder;
    DnsCache plain;
    DnsCache kubernetes;
    Message query;
    long upstreamQueries;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        responder = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread.ofPlatform().daemon().start(this::answer);
        InetSocketAddress upstream = (InetSocketAddress) responder.getLocalSocketAddress();
        plain = DnsCache.builder()
                .upstreams(List.of(upstream))
                .maxTtl(java.time.Duration.ofHours(1))
                .build();
        kubernetes = DnsCache.builder()
                .upstreams(List.of(upstream))
                .maxTtl(Duration.ofHours(1))
                .maxNegativeTtl(Duration.ofHours(1))
                .refreshAheadAt(1.0)
                .searchList(List.of("prod.svc.cluster.local", "svc.cluster.local", "cluster.local"))
                .ndots(5)
                .build();
        query = Message.newQuery(Record.newRecord(Name.fromString("backend.internal."), Type.A, DClass.IN));
        check(plain.resolve("backend.internal").get(5, TimeUnit.SECONDS));
        check(kubernetes.resolve("backend").get(5, TimeUnit.SECONDS));
        plain.query(query).get(5, TimeUnit.SECONDS);
        upstreamQueries = plain.stats().upstreamQueries() + kubernetes.stats().upstreamQueries();
        // Fail at setup, not by measuring the wrong path: every benchmarked call must be a completed hit.
        if (!resolveCached().isDone()
                || !resolveCachedViaSearchList().isDone()
                || !queryCached().isDone()) {
            throw new IllegalStateException("a benchmarked lookup is not answered from the cache");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        long now = plain.stats().upstreamQueries() + kubernetes.stats().upstreamQueries();
        plain.close();
        kubernetes.close();
        responder.close();
        if (now != upstreamQueries) {
            throw new IllegalStateException(
                    "the benchmark reached the upstream: " + (now - upstreamQueries) + " queries");
        }
    }

    @Benchmark
    public CompletableFuture<List<InetAddress>> resolveCached() {
        return plain.resolve("backend.internal");
    }

    @Benchmark
    public CompletableFuture<List<InetAddress>> resolveCachedViaSearchList() {
        return kubernetes.resolve("backend");
    }

    @Benchmark
    public CompletableFuture<Message> queryCached() {
        return plain.query(query);
    }

    private static void check(List<InetAddress> addresses) {
        if (!addresses.equals(List.of(InetAddress.ofLiteral("10.0.0.1")))) {
            throw new IllegalStateException("unexpected addresses " + addresses);
        }
    }

    /** Answers every A question with 10.0.0.1 (TTL 1 h) and every other with an empty NOERROR and an SOA (1 h). */
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
                Name name = q.getQuestion().getName();
                if (q.getQuestion().getType() == Type.A) {
                    r.addRecord(new ARecord(name, DClass.IN, 3600, InetAddress.ofLiteral("10.0.0.1")), Section.ANSWER);
                } else {
                    r.addRecord(
                            new SOARecord(name, DClass.IN, 3600, name, name, 1, 3600, 600, 86400, 3600),
                            Section.AUTHORITY);
                }
                byte[] wire = r.toWire();
                responder.send(new DatagramPacket(wire, wire.length, p.getSocketAddress()));
            } catch (IOException e) {
                // closed
            }
        }
    }
}
