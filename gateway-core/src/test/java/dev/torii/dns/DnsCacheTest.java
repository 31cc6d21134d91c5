package dev.torii.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * {@link DnsCache} against {@link FakeDnsServer}s on loopback, with time moved by a {@link FakeTicker}. Upstream
 * deadlines are real time (short in these tests); no test asserts how long anything took.
 */
class DnsCacheTest {
    private final FakeTicker ticker = new FakeTicker();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : closeables.reversed()) {
            c.close();
        }
    }

    private FakeDnsServer server() {
        FakeDnsServer s = new FakeDnsServer();
        closeables.add(s);
        return s;
    }

    private DnsCache.Builder builder(FakeDnsServer... servers) {
        return DnsCache.builder()
                .upstreams(List.of(servers).stream().map(FakeDnsServer::address).toList())
                .ticker(ticker)
                // Long enough that a loaded machine never times out a live server; tests of deadlines set their own.
                .queryTimeout(Duration.ofSeconds(2))
                .attempts(2)
                .retryBackoff(Duration.ZERO)
                // Off unless a test is about it: a background refresh would race with the counts other tests assert.
                .refreshAheadAt(1.0);
    }

    private DnsCache cache(DnsCache.Builder b) {
        DnsCache c = b.build();
        closeables.add(c);
        return c;
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static DnsException failure(CompletableFuture<?> f) {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(DnsException.class);
            return (DnsException) e.getCause();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected a failure, got " + f.join());
    }

    /** Waits for asynchronous work on real sockets (not for time to pass: the ticker stands still). */
    private static void eventually(BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 10 s");
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private static List<InetAddress> ips(String... literals) {
        return List.of(literals).stream().map(InetAddress::ofLiteral).toList();
    }

    @Test
    void resolvesAAndAaaaTogetherAndAnswersRepeatsFromTheCache() throws Exception {
        FakeDnsServer s = server().a("app.test", 30, "10.0.0.1").aaaa("app.test", 30, "fd00::1");
        DnsCache dns = cache(builder(s));

        assertThat(await(dns.resolve("app.test"))).isEqualTo(ips("10.0.0.1", "fd00::1"));
        CompletableFuture<List<InetAddress>> again = dns.resolve("APP.test.");

        assertThat(again).isDone();
        assertThat(again.join()).isEqualTo(ips("10.0.0.1", "fd00::1"));
        assertThat(s.queries("app.test", Type.A)).isEqualTo(1);
        assertThat(s.queries("app.test", Type.AAAA)).isEqualTo(1);
        assertThat(dns.stats().hits()).isEqualTo(2);
        assertThat(dns.stats().misses()).isEqualTo(2);
        assertThat(dns.stats().upstreamLatency().count()).isEqualTo(2);
    }

    @Test
    void aThousandConcurrentLookupsOfOneNameSendOneQueryPerType() throws Exception {
        FakeDnsServer s = server().a("hot.test", 30, "10.0.0.7");
        s.hold(); // nothing is answered until every lookup is in flight
        DnsCache dns = cache(builder(s).queryTimeout(Duration.ofSeconds(5)));
        List<CompletableFuture<List<InetAddress>>> lookups = new ArrayList<>();
        ExecutorService callers = Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<List<CompletableFuture<List<InetAddress>>>>> batches = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                batches.add(callers.submit(() -> {
                    List<CompletableFuture<List<InetAddress>>> mine = new ArrayList<>();
                    for (int i = 0; i < 250; i++) {
                        mine.add(dns.resolve("hot.test"));
                    }
                    return mine;
                }));
            }
            for (var b : batches) {
                lookups.addAll(b.get());
            }
        } finally {
            callers.shutdown();
        }
        eventually(() -> s.heldReplies() == 2);
        s.release();

        for (CompletableFuture<List<InetAddress>> f : lookups) {
            assertThat(await(f)).isEqualTo(ips("10.0.0.7"));
        }
        assertThat(lookups).hasSize(1000);
        assertThat(s.queries("hot.test", Type.A)).isEqualTo(1);
        assertThat(s.queries("hot.test", Type.AAAA)).isEqualTo(1);
        assertThat(dns.stats().coalesced()).isEqualTo(1998);
    }

    @Test
    void aBurstOfDistinctNamesNeverExceedsTheInFlightCap() throws Exception {
        FakeDnsServer s = server();
        for (int i = 0; i < 60; i++) {
            s.a("n" + i + ".test", 30, "10.1.0." + i);
        }
        s.hold();
        DnsCache dns = cache(builder(s).maxInFlight(4).queueLimit(1000).queryTimeout(Duration.ofSeconds(5)));

        List<CompletableFuture<List<InetAddress>>> lookups = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            lookups.add(dns.resolve("n" + i + ".test"));
        }
        assertThat(dns.stats().inFlight()).isEqualTo(4);
        assertThat(dns.stats().queued()).isEqualTo(116);
        eventually(() -> s.heldReplies() == 4);
        s.delayMillis = 2; // from now on replies come a little later, so queries overlap
        s.release();

        for (int i = 0; i < 60; i++) {
            assertThat(await(lookups.get(i))).isEqualTo(ips("10.1.0." + i));
        }
        assertThat(s.maxOutstanding.get()).isBetween(2, 4);
        assertThat(s.totalQueries()).isEqualTo(120);
        assertThat(dns.stats().inFlight()).isZero();
    }

    @Test
    void whenTheCapAndQueueAreFullALookupFailsFastAsOverloaded() throws Exception {
        FakeDnsServer s = server().a("one.test", 30, "10.0.0.1").a("two.test", 30, "10.0.0.2");
        s.hold();
        DnsCache dns = cache(builder(s).maxInFlight(1).queueLimit(1).queryTimeout(Duration.ofSeconds(5)));

        CompletableFuture<List<InetAddress>> first = dns.resolve("one.test"); // A in flight, AAAA queued
        CompletableFuture<List<InetAddress>> second = dns.resolve("two.test");

        assertThat(second).isCompletedExceptionally();
        assertThat(failure(second).reason()).isEqualTo(DnsException.Reason.OVERLOADED);
        assertThat(dns.stats().rejected()).isEqualTo(2);
        assertThat(dns.stats().queued()).isEqualTo(1);
        eventually(() -> s.heldReplies() == 1);
        s.release();
        assertThat(await(first)).isEqualTo(ips("10.0.0.1"));
        assertThat(s.maxOutstanding.get()).isEqualTo(1);
    }

    @Test
    void whenTheCapIsReachedAnExpiredAnswerIsServedStaleInsteadOfWaiting() throws Exception {
        FakeDnsServer s = server().a("app.test", 10, "10.0.0.1").a("slow.test", 30, "10.0.0.2");
        DnsCache dns = cache(builder(s).maxInFlight(1).queueLimit(10).queryTimeout(Duration.ofSeconds(5)));
        await(dns.resolve("app.test"));
        ticker.advance(Duration.ofSeconds(11));
        s.hold();
        CompletableFuture<List<InetAddress>> slow = dns.resolve("slow.test"); // holds the one slot, AAAA queued

        CompletableFuture<List<InetAddress>> stale = dns.resolve("app.test");

        assertThat(stale).isDone();
        assertThat(stale.join()).isEqualTo(ips("10.0.0.1"));
        assertThat(dns.stats().staleServed()).isEqualTo(2);
        assertThat(dns.stats().queued()).isEqualTo(1); // slow.test's AAAA only: app.test did not queue
        assertThat(s.queries("app.test", Type.A)).isEqualTo(1);
        eventually(() -> s.heldReplies() == 1);
        s.release();
        assertThat(await(slow)).isEqualTo(ips("10.0.0.2"));
    }

    @Test
    void whenTheUpstreamStopsExpiredAnswersAreServedStaleForTheStaleWindow() throws Exception {
        FakeDnsServer s = server().a("app.test", 10, "10.0.0.1");
        DnsCache dns = cache(builder(s).staleFor(Duration.ofMinutes(5)));
        await(dns.resolve("app.test"));
        s.stop();
        ticker.advance(Duration.ofSeconds(11));

        assertThat(await(dns.resolve("app.test"))).isEqualTo(ips("10.0.0.1"));
        assertThat(dns.stats().staleServed()).isEqualTo(2);
        long queries = dns.stats().upstreamQueries();

        // Until its retry time (1 s after the first failed refresh) the name is answered stale at once, without asking.
        CompletableFuture<List<InetAddress>> soon = dns.resolve("app.test");
        assertThat(soon).isDone();
        assertThat(soon.join()).isEqualTo(ips("10.0.0.1"));
        assertThat(dns.stats().upstreamQueries()).isEqualTo(queries);

        // After it, a lookup is still answered stale at once, and starts one background refresh of A and AAAA.
        ticker.advance(Duration.ofMillis(1_100));
        CompletableFuture<List<InetAddress>> later = dns.resolve("app.test");
        assertThat(later).isDone();
        assertThat(later.join()).isEqualTo(ips("10.0.0.1"));
        eventually(() -> dns.stats().upstreamQueries() > queries);

        // Past the stale window the failure shows.
        ticker.advance(Duration.ofMinutes(5));
        assertThat(failure(dns.resolve("app.test")).reason())
                .isIn(DnsException.Reason.UPSTREAM_FAILED, DnsException.Reason.TIMEOUT);
    }

    @Test
    void aSlowUpstreamMissesTheDeadlineAndTheStaleAnswerIsServed() throws Exception {
        FakeDnsServer s = server().a("app.test", 10, "10.0.0.1");
        DnsCache dns = cache(builder(s).queryTimeout(Duration.ofMillis(150)));
        await(dns.resolve("app.test"));
        long timeoutsBefore = dns.stats().upstreamTimeouts();
        s.drop = true;
        ticker.advance(Duration.ofSeconds(11));

        // Answered stale after the client timeout (30 ms), while the refresh still waits for its deadlines.
        assertThat(await(dns.resolve("app.test"))).isEqualTo(ips("10.0.0.1"));
        assertThat(dns.stats().staleServed()).isEqualTo(2);
        eventually(() -> dns.stats().upstreamTimeouts() - timeoutsBefore == 4); // 2 attempts each, A and AAAA

        DnsException e = failure(dns.resolve("never-cached.test"));
        assertThat(e.reason()).isEqualTo(DnsException.Reason.TIMEOUT);
        assertThat(e.getMessage()).contains("never-cached.test", "within");
    }

    @Test
    void aTruncatedUdpAnswerIsRetriedOverTcp() throws Exception {
        FakeDnsServer s = server();
        String[] many = new String[40];
        for (int i = 0; i < many.length; i++) {
            many[i] = "10.2.0." + i;
        }
        s.a("big.test", 30, many);
        s.truncateUdp = true;
        DnsCache dns = cache(builder(s));

        assertThat(await(dns.resolve("big.test"))).hasSize(40);
        assertThat(s.udpQueries.get()).isEqualTo(2);
        assertThat(s.tcpQueries.get()).isEqualTo(2);
    }

    @Test
    void forceTcpSendsNothingOverUdp() throws Exception {
        FakeDnsServer s = server().a("app.test", 30, "10.0.0.1");
        DnsCache dns = cache(builder(s).forceTcp(true));

        assertThat(await(dns.resolve("app.test"))).isEqualTo(ips("10.0.0.1"));
        assertThat(s.udpQueries.get()).isZero();
        assertThat(s.tcpQueries.get()).isEqualTo(2);
    }

    @Test
    void nxdomainIsCachedForTheSoaMinimum() throws Exception {
        FakeDnsServer s = server();
        DnsCache dns = cache(builder(s));

        DnsException e = failure(dns.resolve("missing.test"));
        assertThat(e.reason()).isEqualTo(DnsException.Reason.NAME_NOT_FOUND);
        assertThat(e).isInstanceOf(java.net.UnknownHostException.class);
        assertThat(failure(dns.resolve("missing.test")).reason()).isEqualTo(DnsException.Reason.NAME_NOT_FOUND);
        assertThat(s.queries("missing.test", Type.A)).isEqualTo(1);

        // SOA TTL 60, MINIMUM 7: negative TTL 7 s (5 s stays clear of refresh-ahead at 80 %, 5.6 s)
        ticker.advance(Duration.ofSeconds(5));
        failure(dns.resolve("missing.test"));
        assertThat(s.queries("missing.test", Type.A)).isEqualTo(1);

        ticker.advance(Duration.ofSeconds(3));
        failure(dns.resolve("missing.test"));
        assertThat(s.queries("missing.test", Type.A)).isEqualTo(2);
    }

    @Test
    void negativeAnswersLiveNoLongerThanMaxNegativeTtl() throws Exception {
        FakeDnsServer s = server();
        DnsCache dns = cache(builder(s).maxNegativeTtl(Duration.ofSeconds(2)));
        failure(dns.resolve("missing.test"));
        ticker.advance(Duration.ofSeconds(3));
        failure(dns.resolve("missing.test"));
        assertThat(s.queries("missing.test", Type.A)).isEqualTo(2);
    }

    @Test
    void aNameWithoutAddressesFailsAsNoData() throws Exception {
        FakeDnsServer s = server().srv("_x._tcp.svc.test", 30, 1, 1, 80, "a.test");
        DnsCache dns = cache(builder(s));
        assertThat(failure(dns.resolve("_x._tcp.svc.test")).reason()).isEqualTo(DnsException.Reason.NO_DATA);
    }

    @Test
    void aDeadUpstreamFailsOverToTheNextAndIsThenTriedLast() throws Exception {
        FakeDnsServer dead = server();
        dead.drop = true;
        FakeDnsServer good = server().a("app.test", 30, "10.0.0.1").a("db.test", 30, "10.0.0.2");
        DnsCache dns = cache(builder(dead, good).queryTimeout(Duration.ofMillis(250)));

        assertThat(await(dns.resolve("app.test"))).isEqualTo(ips("10.0.0.1"));
        assertThat(dead.queries("app.test", Type.A)).isEqualTo(1);
        assertThat(dns.stats().upstreamErrors()).isGreaterThanOrEqualTo(2);

        assertThat(await(dns.resolve("db.test"))).isEqualTo(ips("10.0.0.2"));
        assertThat(dead.queries("db.test", Type.A)).isZero();
    }

    @Test
    void servfailIsRetriedOnTheNextUpstream() throws Exception {
        FakeDnsServer failing = server();
        failing.responder = q -> FakeDnsServer.reply(q, Rcode.SERVFAIL);
        FakeDnsServer good = server().a("app.test", 30, "10.0.0.1");
        DnsCache dns = cache(builder(failing, good));

        // One record type, so that no second lookup starts after the first failure (it would go to the good one first).
        Message answer =
                await(dns.query(Message.newQuery(Record.newRecord(FakeDnsServer.name("app.test"), Type.A, DClass.IN))));
        assertThat(answer.getRcode()).isEqualTo(Rcode.NOERROR);
        assertThat(answer.getSection(Section.ANSWER)).hasSize(1);
        assertThat(failing.queries("app.test", Type.A)).isEqualTo(1);
        assertThat(dns.stats().upstreamErrors()).isEqualTo(1);
        assertThat(dns.stats().upstreamTimeouts()).isZero();
    }

    @Test
    void aCnameChainInOneResponseIsCachedAndServedWhole() throws Exception {
        FakeDnsServer s = server().cname("www.test", 30, "web.test")
                .cname("web.test", 30, "app.test")
                .a("app.test", 30, "10.0.0.5");
        DnsCache dns = cache(builder(s));

        assertThat(await(dns.resolve("www.test"))).isEqualTo(ips("10.0.0.5"));
        Message response =
                await(dns.query(Message.newQuery(Record.newRecord(FakeDnsServer.name("www.test"), Type.A, DClass.IN))));
        assertThat(response.getSection(Section.ANSWER))
                .extracting(r -> Type.string(r.getType()) + " " + r.getName())
                .containsExactly("CNAME www.test.", "CNAME web.test.", "A app.test.");
        assertThat(s.queries("www.test", Type.A)).isEqualTo(1);
        assertThat(s.queries("app.test", Type.A)).isZero();
    }

    @Test
    void aCnameChainTheUpstreamLeftUnfollowedIsFollowed() throws Exception {
        FakeDnsServer s = server().cname("www.test", 30, "web.test")
                .cname("web.test", 30, "app.test")
                .a("app.test", 30, "10.0.0.5");
        s.followChains = false;
        DnsCache dns = cache(builder(s));

        assertThat(await(dns.resolve("www.test"))).isEqualTo(ips("10.0.0.5"));
        assertThat(s.queries("web.test", Type.A)).isEqualTo(1);
        assertThat(s.queries("app.test", Type.A)).isEqualTo(1);
    }

    @Test
    void aCnameLoopFailsInsteadOfWaitingForItself() throws Exception {
        FakeDnsServer s = server().cname("loop1.test", 30, "loop2.test").cname("loop2.test", 30, "loop1.test");
        s.followChains = false;
        DnsCache dns = cache(builder(s));

        DnsException e = failure(dns.resolve("loop1.test"));
        assertThat(e.reason()).isEqualTo(DnsException.Reason.UPSTREAM_FAILED);
        assertThat(e.getMessage()).contains("CNAME chain longer than 16");
    }

    @Test
    void ttlsAreClampedToMinTtlAndMaxTtl() throws Exception {
        FakeDnsServer s = server().a("zero.test", 0, "10.0.0.1").a("day.test", 86_400, "10.0.0.2");
        DnsCache dns = cache(builder(s).minTtl(Duration.ofSeconds(5)).maxTtl(Duration.ofSeconds(60)));
        await(dns.resolve("zero.test"));
        await(dns.resolve("day.test"));

        ticker.advance(Duration.ofSeconds(3));
        await(dns.resolve("zero.test"));
        assertThat(s.queries("zero.test", Type.A)).isEqualTo(1);

        ticker.advance(Duration.ofSeconds(58));
        await(dns.resolve("day.test"));
        assertThat(s.queries("day.test", Type.A)).isEqualTo(2);
    }

    @Test
    void aNameUsedLateInItsTtlIsRefreshedAheadWithoutMakingTheCallerWait() throws Exception {
        FakeDnsServer s = server().a("app.test", 10, "10.0.0.1")
                .aaaa("app.test", 10, "fd00::1")
                .a("idle.test", 10, "10.0.0.9");
        DnsCache dns = cache(builder(s).refreshAheadAt(0.8));
        await(dns.resolve("app.test"));
        await(dns.resolve("idle.test"));
        s.remove("app.test");
        s.a("app.test", 10, "10.0.0.2").aaaa("app.test", 10, "fd00::2");

        ticker.advance(Duration.ofSeconds(9));
        CompletableFuture<List<InetAddress>> late = dns.resolve("app.test");
        assertThat(late).isDone();
        assertThat(late.join()).isEqualTo(ips("10.0.0.1", "fd00::1"));

        eventually(() -> dns.resolve("app.test").getNow(List.of()).equals(ips("10.0.0.2", "fd00::2")));
        assertThat(s.queries("app.test", Type.A)).isEqualTo(2);
        assertThat(dns.stats().refreshes()).isEqualTo(2);
        assertThat(s.queries("idle.test", Type.A)).isEqualTo(1);

        // Past the old TTL the refreshed answer is still fresh: no caller waits.
        ticker.advance(Duration.ofSeconds(2));
        assertThat(dns.resolve("app.test")).isDone();
    }

    @Test
    void relativeNamesGoThroughTheSearchListAsNdotsSays() throws Exception {
        FakeDnsServer s = server().a("backend.ns.svc.cluster.local", 30, "10.3.0.1")
                .a("example.com", 30, "93.184.216.34")
                .a("other.com", 30, "93.184.216.35");
        DnsCache dns = cache(builder(s)
                .searchList(List.of("ns.svc.cluster.local", "svc.cluster.local"))
                .ndots(5));

        assertThat(await(dns.resolve("backend"))).isEqualTo(ips("10.3.0.1"));
        assertThat(s.log)
                .containsExactlyInAnyOrder("backend.ns.svc.cluster.local A", "backend.ns.svc.cluster.local AAAA");

        s.log.clear();
        assertThat(await(dns.resolve("example.com"))).isEqualTo(ips("93.184.216.34"));
        assertThat(s.log.stream().filter(l -> l.endsWith(" A")))
                .containsExactly(
                        "example.com.ns.svc.cluster.local A", "example.com.svc.cluster.local A", "example.com A");

        s.log.clear();
        assertThat(await(dns.resolve("other.com."))).isEqualTo(ips("93.184.216.35"));
        assertThat(s.log).containsExactlyInAnyOrder("other.com A", "other.com AAAA");

        DnsException e = failure(dns.resolve("nowhere"));
        assertThat(e.reason()).isEqualTo(DnsException.Reason.NAME_NOT_FOUND);
        assertThat(e.getMessage()).contains("tried nowhere.ns.svc.cluster.local, nowhere.svc.cluster.local, nowhere");
    }

    @Test
    void aNameWithAtLeastNdotsDotsIsTriedAsItIsFirst() throws Exception {
        FakeDnsServer s = server().a("example.com", 30, "93.184.216.34");
        DnsCache dns = cache(builder(s).searchList(List.of("corp.test")).ndots(1));
        assertThat(await(dns.resolve("example.com"))).isEqualTo(ips("93.184.216.34"));
        assertThat(s.log).containsExactlyInAnyOrder("example.com A", "example.com AAAA");
    }

    @Test
    void srvTargetsComeByPriorityThenWeight() throws Exception {
        FakeDnsServer s = server().srv("_http._tcp.api.test", 30, 20, 1, 8080, "c.test")
                .srv("_http._tcp.api.test", 30, 10, 5, 8080, "a.test")
                .srv("_http._tcp.api.test", 30, 10, 50, 8081, "b.test");
        DnsCache dns = cache(builder(s));
        assertThat(await(dns.resolveSrv("_http._tcp.api.test")))
                .containsExactly(
                        new SrvTarget(10, 50, 8081, "b.test"),
                        new SrvTarget(10, 5, 8080, "a.test"),
                        new SrvTarget(20, 1, 8080, "c.test"));
    }

    @Test
    void queryMessagesAreAnsweredFromTheCacheWithTheRemainingTtl() throws Exception {
        FakeDnsServer s = server().a("app.test", 10, "10.0.0.1");
        DnsCache dns = cache(builder(s));
        Message request = Message.newQuery(Record.newRecord(FakeDnsServer.name("app.test"), Type.A, DClass.IN));

        Message first = await(dns.query(request));
        ticker.advance(Duration.ofSeconds(4));
        Message second = await(dns.query(request));

        assertThat(second.getHeader().getID()).isEqualTo(request.getHeader().getID());
        assertThat(second.getHeader().getFlag(Flags.QR)).isTrue();
        assertThat(second.getHeader().getFlag(Flags.RA)).isTrue();
        assertThat(first.getSection(Section.ANSWER).getFirst().getTTL()).isEqualTo(10);
        assertThat(second.getSection(Section.ANSWER).getFirst().getTTL()).isEqualTo(6);
        assertThat(s.queries("app.test", Type.A)).isEqualTo(1);

        Message missing = await(
                dns.query(Message.newQuery(Record.newRecord(FakeDnsServer.name("gone.test"), Type.A, DClass.IN))));
        assertThat(missing.getRcode()).isEqualTo(Rcode.NXDOMAIN);
        assertThat(missing.getSection(Section.AUTHORITY)).singleElement().satisfies(r -> assertThat(r.getType())
                .isEqualTo(Type.SOA));
    }

    @Test
    void staleQueryResponsesCarryTheStaleAnswerTtl() throws Exception {
        FakeDnsServer s = server().a("app.test", 10, "10.0.0.1");
        DnsCache dns = cache(builder(s));
        Message request = Message.newQuery(Record.newRecord(FakeDnsServer.name("app.test"), Type.A, DClass.IN));
        await(dns.query(request));
        s.stop();
        ticker.advance(Duration.ofSeconds(20));

        Message stale = await(dns.query(request));
        assertThat(stale.getRcode()).isEqualTo(Rcode.NOERROR);
        assertThat(stale.getSection(Section.ANSWER).getFirst().getTTL()).isEqualTo(30);
    }

    @Test
    void queriesLeaveFromAPoolOfRandomPortsWithRandomIds() throws Exception {
        FakeDnsServer s = server();
        for (int i = 0; i < 100; i++) {
            s.a("r" + i + ".test", 30, "10.4.0." + i);
        }
        DnsCache dns = cache(builder(s));
        for (int i = 0; i < 100; i++) {
            await(dns.resolve("r" + i + ".test"));
        }
        assertThat(s.udpQueries.get()).isEqualTo(200);
        // Each query picks one of the server's 16 sockets at random: 200 queries leave from all of them (the chance
        // that one is never picked is 16 x (15/16)^200, about 1 in 400,000).
        assertThat(s.sourcePorts).hasSize(16);
        assertThat(s.ids).hasSizeGreaterThan(150);
    }

    @Test
    void resolveWithAnExecutorCompletesOnThatExecutor() throws Exception {
        FakeDnsServer s = server().a("app.test", 30, "10.0.0.1");
        DnsCache dns = cache(builder(s));
        ExecutorService loop = Executors.newSingleThreadExecutor(r -> new Thread(r, "caller-loop"));
        try {
            AtomicReference<String> thread = new AtomicReference<>();
            s.hold(); // the stage below is attached before the answer can arrive
            CompletableFuture<Void> done = dns.resolve("app.test", loop)
                    .thenRun(() -> thread.set(Thread.currentThread().getName()));
            s.release();
            await(done);
            assertThat(thread.get()).isEqualTo("caller-loop");
        } finally {
            loop.shutdown();
        }
    }

    @Test
    void ipLiteralsResolveWithoutAsking() throws Exception {
        FakeDnsServer s = server();
        DnsCache dns = cache(builder(s));
        assertThat(await(dns.resolve("192.0.2.7"))).isEqualTo(ips("192.0.2.7"));
        assertThat(await(dns.resolve("[2001:db8::1]"))).isEqualTo(ips("2001:db8::1"));
        assertThat(s.totalQueries()).isZero();
    }

    @Test
    void invalidNamesFailWithoutAsking() throws Exception {
        FakeDnsServer s = server();
        DnsCache dns = cache(builder(s));
        assertThat(failure(dns.resolve("")).reason()).isEqualTo(DnsException.Reason.INVALID_NAME);
        assertThat(failure(dns.resolve("x".repeat(64) + ".test")).reason()).isEqualTo(DnsException.Reason.INVALID_NAME);
        assertThat(s.totalQueries()).isZero();
    }

    @Test
    void closingFailsLookupsInFlightAndLaterOnes() throws Exception {
        FakeDnsServer s = server().a("app.test", 30, "10.0.0.1");
        s.hold();
        DnsCache dns = cache(builder(s).queryTimeout(Duration.ofSeconds(5)));
        CompletableFuture<List<InetAddress>> pending = dns.resolve("app.test");
        dns.close();
        assertThat(failure(pending).reason()).isEqualTo(DnsException.Reason.CLOSED);
        assertThat(failure(dns.resolve("app.test")).reason()).isEqualTo(DnsException.Reason.CLOSED);
        s.release();
    }

    @Test
    void theCacheKeepsAtMostMaxEntries() throws Exception {
        FakeDnsServer s = server();
        for (int i = 0; i < 30; i++) {
            s.a("e" + i + ".test", 300, "10.5.0." + i);
        }
        DnsCache dns = cache(builder(s).maxEntries(10));
        for (int i = 0; i < 30; i++) {
            await(dns.resolve("e" + i + ".test"));
        }
        assertThat(dns.stats().entries()).isLessThanOrEqualTo(10);
    }

    @Test
    void theBuilderNamesTheWrongValueAndWhatWasExpected() {
        assertThatThrownBy(() -> DnsCache.builder().build())
                .hasMessage("upstreams: [] (expected: at least one server)");
        assertThatThrownBy(() -> DnsCache.builder().upstreams("dns.google:53").build())
                .hasMessageStartingWith("upstreams: dns.google:53 (expected: an IP address");
        DnsCache.Builder ok = DnsCache.builder().upstreams("127.0.0.1:53", "[::1]", "10.0.0.10");
        assertThatThrownBy(() -> ok.maxTtl(Duration.ZERO).build()).hasMessage("maxTtl: 0s (expected: > 0)");
        assertThatThrownBy(() -> ok.maxTtl(Duration.ofMillis(500)).build())
                .hasMessage("maxTtl: 0.5s (expected: >= minTtl (1s))");
        ok.maxTtl(Duration.ofMinutes(5));
        assertThatThrownBy(() -> ok.maxInFlight(0).build()).hasMessage("maxInFlight: 0 (expected: > 0)");
        ok.maxInFlight(10);
        assertThatThrownBy(() -> ok.refreshAheadAt(1.5).build())
                .hasMessage("refreshAheadAt: 1.5 (expected: > 0 and <= 1)");
        ok.refreshAheadAt(0.8);
        assertThatThrownBy(() -> ok.ndots(16).build()).hasMessage("ndots: 16 (expected: 0-15)");
        ok.ndots(1);
        assertThatThrownBy(() -> ok.ednsPayloadSize(100).build())
                .hasMessage("ednsPayloadSize: 100 (expected: 0 or 512-65535)");
        ok.ednsPayloadSize(1232);
        assertThatThrownBy(() -> ok.attempts(0).build()).hasMessage("attempts: 0 (expected: >= 1)");
        ok.attempts(1);
        ok.build().close();
    }

    @Test
    void aServfailIsRememberedForTheFailureTtlSoItsCallersFailAtOnceWithoutAskingAgain() throws Exception {
        FakeDnsServer s = server();
        s.responder = q -> FakeDnsServer.reply(q, Rcode.SERVFAIL);
        DnsCache dns = cache(builder(s).failureTtl(Duration.ofSeconds(5)));
        Message query = Message.newQuery(Record.newRecord(FakeDnsServer.name("broken.test"), Type.A, DClass.IN));

        assertThat(failure(dns.resolve("broken.test")).reason()).isEqualTo(DnsException.Reason.UPSTREAM_FAILED);
        long queries = s.queries("broken.test", Type.A) + s.queries("broken.test", Type.AAAA);
        assertThat(dns.stats().failuresCached()).isEqualTo(2);

        CompletableFuture<List<InetAddress>> again = dns.resolve("broken.test");
        assertThat(again).isCompletedExceptionally();
        assertThat(failure(again).reason()).isEqualTo(DnsException.Reason.UPSTREAM_FAILED);
        CompletableFuture<Message> servfail = dns.query(query);
        assertThat(servfail).isDone();
        assertThat(servfail.join().getRcode()).isEqualTo(Rcode.SERVFAIL);
        assertThat(s.queries("broken.test", Type.A) + s.queries("broken.test", Type.AAAA))
                .isEqualTo(queries);
        assertThat(dns.stats().failureHits()).isEqualTo(3);

        // After the failure TTL the name is asked again, and an answer replaces the failure.
        ticker.advance(Duration.ofSeconds(6));
        s.responder = null;
        s.a("broken.test", 30, "10.0.0.9");
        assertThat(await(dns.resolve("broken.test"))).isEqualTo(ips("10.0.0.9"));
    }

    @Test
    void timeoutsAreRememberedTooAndAFailureTtlOfZeroRemembersNothing() throws Exception {
        FakeDnsServer s = server();
        s.drop = true;
        DnsCache remembering =
                cache(builder(s).queryTimeout(Duration.ofMillis(100)).attempts(1));
        assertThat(failure(remembering.resolve("silent.test")).reason()).isEqualTo(DnsException.Reason.TIMEOUT);
        assertThat(remembering.resolve("silent.test")).isCompletedExceptionally();
        assertThat(remembering.stats().failureHits()).isEqualTo(2);

        DnsCache forgetting = cache(
                builder(s).queryTimeout(Duration.ofMillis(100)).attempts(1).failureTtl(Duration.ZERO));
        failure(forgetting.resolve("silent.test"));
        assertThat(forgetting.resolve("silent.test")).isNotDone();
        assertThat(forgetting.stats().failuresCached()).isZero();
    }

    @Test
    void aRefreshOfAnAddressRefreshesItsSiblingTypeWithIt() throws Exception {
        FakeDnsServer s = server().a("pair.test", 10, "10.0.0.1").aaaa("pair.test", 10, "fd00::1");
        DnsCache dns = cache(builder(s).staleClientTimeout(Duration.ofSeconds(5)));
        Message a = Message.newQuery(Record.newRecord(FakeDnsServer.name("pair.test"), Type.A, DClass.IN));
        await(dns.resolve("pair.test"));
        ticker.advance(Duration.ofSeconds(11));

        // A DNS client asks for A only; AAAA is refreshed along, before the client asks for it.
        await(dns.query(a));
        eventually(() -> s.queries("pair.test", Type.AAAA) == 2);
        eventually(() -> dns.resolve("pair.test").isDone());
        assertThat(dns.stats().refreshes()).isEqualTo(1);
    }

    @Test
    void forwardZonesSendClusterNamesToTheClusterDnsOverTcpAndTheRestToTheNodesUpstreams() throws Exception {
        FakeDnsServer cluster = server().a("redis.prod.svc.cluster.local", 30, "10.96.1.1");
        FakeDnsServer node = server().a("example.org", 30, "93.184.216.34");
        DnsCache dns = cache(builder(node)
                .searchList(List.of("prod.svc.cluster.local", "svc.cluster.local", "cluster.local"))
                .ndots(5)
                .zone("cluster.local.", z -> z.upstreams(List.of(cluster.address()))
                        .forceTcp(true))
                .zone("in-addr.arpa", z -> z.upstreams(List.of(cluster.address()))
                        .forceTcp(true)));

        // A Kubernetes short name through the search list and ndots, asked of the cluster DNS over TCP only.
        assertThat(await(dns.resolve("redis"))).isEqualTo(ips("10.96.1.1"));
        assertThat(cluster.udpQueries.get()).isZero();
        assertThat(cluster.tcpQueries.get()).isGreaterThanOrEqualTo(2);
        assertThat(node.queries("redis.prod.svc.cluster.local", Type.A)).isZero();

        assertThat(await(dns.resolve("example.org."))).isEqualTo(ips("93.184.216.34"));
        assertThat(cluster.queries("example.org", Type.A)).isZero();
        assertThat(node.udpQueries.get()).isGreaterThanOrEqualTo(1);

        Message ptr =
                Message.newQuery(Record.newRecord(FakeDnsServer.name("1.1.96.10.in-addr.arpa"), Type.PTR, DClass.IN));
        await(dns.query(ptr));
        assertThat(cluster.queries("1.1.96.10.in-addr.arpa", Type.PTR)).isEqualTo(1);
        assertThat(node.queries("1.1.96.10.in-addr.arpa", Type.PTR)).isZero();
    }

    @Test
    void eachZoneKeepsItsOwnStalePolicy() throws Exception {
        FakeDnsServer cluster = server().a("app.cluster.local", 10, "10.96.0.5");
        FakeDnsServer node = server().a("app.example", 10, "10.0.0.5");
        DnsCache dns = cache(builder(node).staleFor(Duration.ofMinutes(5)).zone("cluster.local", z -> z.upstreams(
                        List.of(cluster.address()))
                .staleFor(Duration.ZERO)));
        await(dns.resolve("app.cluster.local"));
        await(dns.resolve("app.example"));
        cluster.stop();
        node.stop();
        ticker.advance(Duration.ofSeconds(11));

        assertThat(await(dns.resolve("app.example"))).isEqualTo(ips("10.0.0.5"));
        assertThat(failure(dns.resolve("app.cluster.local")).reason())
                .isIn(DnsException.Reason.UPSTREAM_FAILED, DnsException.Reason.TIMEOUT);
    }

    @Test
    void aZoneSettingOutOfRangeIsNamedWithItsZone() {
        assertThatThrownBy(() -> DnsCache.builder()
                        .upstreams("127.0.0.1:53")
                        .zone("cluster.local", z -> z.queryTimeout(Duration.ZERO))
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("zones.cluster.local.queryTimeout: 0s (expected: > 0)");
        assertThatThrownBy(() -> DnsCache.builder()
                        .upstreams("127.0.0.1:53")
                        .zone(".", z -> z)
                        .build())
                .hasMessageStartingWith("zones: \".\" (expected: a domain name");
    }
}
