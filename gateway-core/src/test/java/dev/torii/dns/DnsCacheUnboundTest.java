package dev.torii.dns;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.testing.UnboundServer;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * {@link DnsCache} end to end against a real unbound on loopback, serving a local authoritative zone: short TTLs, a
 * CNAME chain (which unbound's local data answers one link at a time, so the cache follows it), NXDOMAIN with an SOA
 * (negative TTL 5 s), SRV records and an answer of 120 A records, too big for a 1232-byte UDP answer. Time in the
 * cache moves by a fake ticker; unbound's answers are what they are.
 */
class DnsCacheUnboundTest {
    private static final int MANY = 120;
    private static UnboundServer unbound;

    private final FakeTicker ticker = new FakeTicker();
    private final List<DnsCache> caches = new ArrayList<>();

    @BeforeAll
    static void startUnbound() {
        List<String> lines = new ArrayList<>(List.of(
                // Everything outside the test zone is NXDOMAIN (without an SOA): unbound never tries to recurse.
                "local-zone: \".\" static",
                "local-zone: \"e2e.test.\" static",
                "local-data: \"e2e.test. 3600 IN SOA ns.e2e.test. admin.e2e.test. 1 3600 600 86400 5\"",
                "local-data: \"app.e2e.test. 2 IN A 10.9.0.1\"",
                "local-data: \"app.e2e.test. 2 IN AAAA fd00::9:1\"",
                "local-data: \"www.e2e.test. 30 IN CNAME web.e2e.test.\"",
                "local-data: \"web.e2e.test. 30 IN CNAME app.e2e.test.\"",
                "local-data: \"_http._tcp.api.e2e.test. 30 IN SRV 10 5 8080 app.e2e.test.\"",
                "local-data: \"_http._tcp.api.e2e.test. 30 IN SRV 5 1 8081 web.e2e.test.\"",
                "local-data: \"stale.e2e.test. 2 IN A 10.9.0.2\"",
                "local-data: 'cfg.e2e.test. 30 IN TXT \"weight=5\" \" zone=a\"'"));
        for (int i = 0; i < MANY; i++) {
            lines.add("local-data: \"many.e2e.test. 30 IN A 10.8.0." + i + "\"");
        }
        unbound = UnboundServer.start(lines);
    }

    @AfterAll
    static void stopUnbound() {
        if (unbound != null) {
            unbound.close();
        }
    }

    @AfterEach
    void closeCaches() {
        caches.forEach(DnsCache::close);
    }

    private DnsCache cache(DnsCache.Builder b) {
        DnsCache c = b.build();
        caches.add(c);
        return c;
    }

    private DnsCache.Builder builder() {
        return DnsCache.builder()
                .upstreams(List.of(unbound.address()))
                .ticker(ticker)
                .queryTimeout(Duration.ofSeconds(2))
                .attempts(2)
                .refreshAheadAt(1.0); // no background refreshes racing with the query counts asserted
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static List<InetAddress> ips(String... literals) {
        return List.of(literals).stream().map(InetAddress::ofLiteral).toList();
    }

    @Test
    void resolvesAddressesFromUnboundAndCachesThemForTheirTtl() throws Exception {
        DnsCache dns = cache(builder());
        assertThat(await(dns.resolve("app.e2e.test"))).isEqualTo(ips("10.9.0.1", "fd00::9:1"));
        assertThat(await(dns.resolve("app.e2e.test"))).isEqualTo(ips("10.9.0.1", "fd00::9:1"));
        assertThat(dns.stats().upstreamQueries()).isEqualTo(2);

        ticker.advance(Duration.ofSeconds(3)); // TTL 2 s
        assertThat(await(dns.resolve("app.e2e.test"))).isEqualTo(ips("10.9.0.1", "fd00::9:1"));
        assertThat(dns.stats().upstreamQueries()).isEqualTo(4);
    }

    @Test
    void followsACnameChainThatUnboundAnswersOneLinkAtATime() throws Exception {
        DnsCache dns = cache(builder());
        assertThat(await(dns.resolve("www.e2e.test"))).isEqualTo(ips("10.9.0.1", "fd00::9:1"));

        Message response = await(
                dns.query(Message.newQuery(Record.newRecord(FakeDnsServer.name("www.e2e.test"), Type.A, DClass.IN))));
        assertThat(response.getSection(Section.ANSWER))
                .extracting(r -> Type.string(r.getType()) + " " + r.getName())
                .containsExactly("CNAME www.e2e.test.", "CNAME web.e2e.test.", "A app.e2e.test.");
        // The answer's TTL is the chain's smallest (app's 2 s), not the CNAMEs' 30 s.
        assertThat(response.getSection(Section.ANSWER).getFirst().getTTL()).isEqualTo(2);
    }

    @Test
    void nxdomainFromUnboundIsCachedForTheSoaNegativeTtl() throws Exception {
        DnsCache dns = cache(builder());
        DnsException e = failure(dns.resolve("nothing.e2e.test"));
        assertThat(e.reason()).isEqualTo(DnsException.Reason.NAME_NOT_FOUND);
        long queries = dns.stats().upstreamQueries();

        ticker.advance(Duration.ofSeconds(3)); // negative TTL min(SOA TTL, MINIMUM) = 5 s
        failure(dns.resolve("nothing.e2e.test"));
        assertThat(dns.stats().upstreamQueries()).isEqualTo(queries);

        ticker.advance(Duration.ofSeconds(3));
        failure(dns.resolve("nothing.e2e.test"));
        assertThat(dns.stats().upstreamQueries()).isEqualTo(queries + 2);
    }

    @Test
    void anAnswerTooBigForUdpArrivesWholeOverTcp() throws Exception {
        // The premise: over UDP with a 1232-byte EDNS buffer unbound truncates this answer.
        SimpleResolver raw = new SimpleResolver(unbound.address());
        raw.setIgnoreTruncation(true);
        raw.setEDNS(0, 1232, 0, List.of());
        Message udp =
                raw.send(Message.newQuery(Record.newRecord(FakeDnsServer.name("many.e2e.test"), Type.A, DClass.IN)));
        assertThat(udp.getHeader().getFlag(Flags.TC)).isTrue();

        DnsCache dns = cache(builder());
        assertThat(await(dns.resolve("many.e2e.test"))).hasSize(MANY);

        DnsCache tcpOnly = cache(builder().forceTcp(true));
        assertThat(await(tcpOnly.resolve("many.e2e.test"))).hasSize(MANY);
    }

    @Test
    void srvRecordsComeByPriority() throws Exception {
        DnsCache dns = cache(builder());
        assertThat(await(dns.resolveSrv("_http._tcp.api.e2e.test")))
                .containsExactly(new SrvTarget(5, 1, 8081, "web.e2e.test"), new SrvTarget(10, 5, 8080, "app.e2e.test"));
    }

    @Test
    void txtRecordsComeAsOneStringPerRecordAndAreCached() throws Exception {
        DnsCache dns = cache(builder().searchList(List.of("e2e.test")).ndots(1));
        assertThat(await(dns.resolveTxt("cfg"))).containsExactly("weight=5 zone=a");
        CompletableFuture<List<String>> again = dns.resolveTxt("cfg.e2e.test.");
        assertThat(again).isDone();
        assertThat(again.join()).containsExactly("weight=5 zone=a");
        assertThat(failure(dns.resolveTxt("app.e2e.test.")).reason()).isEqualTo(DnsException.Reason.NO_DATA);
    }

    @Test
    void searchListCandidatesAreAskedOfUnboundInOrder() throws Exception {
        DnsCache dns =
                cache(builder().searchList(List.of("nope.test", "e2e.test")).ndots(5));
        assertThat(await(dns.resolve("app"))).isEqualTo(ips("10.9.0.1", "fd00::9:1"));
        assertThat(failure(dns.resolve("absent")).getMessage())
                .contains("tried absent.nope.test, absent.e2e.test, absent");
    }

    @Test
    void aThousandLookupsOfOneNameReachUnboundAsOneLookupPerType() throws Exception {
        DnsCache dns = cache(builder());
        List<CompletableFuture<List<InetAddress>>> lookups = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            lookups.add(dns.resolve("app.e2e.test"));
        }
        for (CompletableFuture<List<InetAddress>> f : lookups) {
            assertThat(await(f)).isEqualTo(ips("10.9.0.1", "fd00::9:1"));
        }
        // Lookups that went upstream: one per type; the others joined them or, once the answer was in, hit the cache.
        // (Attempts are not counted: on this shared machine an attempt may miss its deadline and be retried. How many
        // joined depends on unbound's speed; FakeDnsServer holds its answer to show the joining deterministically.)
        DnsCacheStats stats = dns.stats();
        assertThat(stats.misses() - stats.coalesced()).isEqualTo(2);
        assertThat(stats.hits() + stats.misses()).isEqualTo(2000);
    }

    @Test
    void queryMessagesForMissingNamesGetNxdomainWithTheSoa() throws Exception {
        DnsCache dns = cache(builder());
        Message nx = await(
                dns.query(Message.newQuery(Record.newRecord(FakeDnsServer.name("gone.e2e.test"), Type.A, DClass.IN))));
        assertThat(nx.getRcode()).isEqualTo(Rcode.NXDOMAIN);
        assertThat(nx.getSection(Section.AUTHORITY)).extracting(Record::getType).containsExactly(Type.SOA);
    }

    /** Last in spirit: stops the shared unbound, so it restarts it afterwards for any test that runs later. */
    @Test
    void whenUnboundStopsAnswersAreServedStale() throws Exception {
        DnsCache dns = cache(builder());
        assertThat(await(dns.resolve("stale.e2e.test"))).isEqualTo(ips("10.9.0.2"));
        unbound.stop();
        try {
            ticker.advance(Duration.ofSeconds(5)); // TTL 2 s: expired, within staleFor (1 h)
            assertThat(await(dns.resolve("stale.e2e.test"))).isEqualTo(ips("10.9.0.2"));
            assertThat(dns.stats().staleServed()).isGreaterThanOrEqualTo(1);
            assertThat(dns.stats().upstreamErrors()).isGreaterThan(0);
        } finally {
            unbound.close();
            startUnbound();
        }
    }

    private static DnsException failure(CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(DnsException.class);
            return (DnsException) e.getCause();
        }
        throw new AssertionError("expected a failure, got " + f.join());
    }
}
