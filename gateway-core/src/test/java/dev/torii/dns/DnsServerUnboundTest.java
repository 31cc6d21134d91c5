package dev.torii.dns;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.testing.Dig;
import dev.torii.testing.UnboundServer;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link DnsServer} with {@code dig} as the client, over UDP and TCP, in front of a {@link DnsCache} that forwards to a
 * real unbound serving a local zone. Time in the cache moves by a fake ticker, so TTLs and staleness are exact.
 */
class DnsServerUnboundTest {
    private static final int MANY = 120;
    private static UnboundServer unbound;

    private final FakeTicker ticker = new FakeTicker();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void startUnbound() {
        unbound = UnboundServer.start(zone());
    }

    static List<String> zone() {
        List<String> lines = new ArrayList<>(List.of(
                "local-zone: \".\" static",
                "local-zone: \"e2e.test.\" static",
                "local-data: \"e2e.test. 3600 IN SOA ns.e2e.test. admin.e2e.test. 1 3600 600 86400 5\"",
                "local-data: \"app.e2e.test. 30 IN A 10.9.0.1\"",
                "local-data: \"app.e2e.test. 30 IN AAAA fd00::9:1\"",
                "local-data: \"www.e2e.test. 30 IN CNAME web.e2e.test.\"",
                "local-data: \"web.e2e.test. 30 IN CNAME app.e2e.test.\"",
                "local-data: \"stale.e2e.test. 2 IN A 10.9.0.2\""));
        for (int i = 0; i < MANY; i++) {
            lines.add("local-data: \"many.e2e.test. 30 IN A 10.8.0." + i + "\"");
        }
        return lines;
    }

    @AfterAll
    static void stopUnbound() {
        if (unbound != null) {
            unbound.close();
        }
    }

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private DnsCache cache(InetSocketAddress upstream) {
        DnsCache cache = DnsCache.builder()
                .upstreams(List.of(upstream))
                .ticker(ticker)
                .queryTimeout(Duration.ofSeconds(2))
                .attempts(2)
                .refreshAheadAt(1.0)
                .build();
        closeables.add(cache);
        return cache;
    }

    private DnsServer server(DnsCache cache, DnsServer.Builder b) {
        DnsServer server = b.address("127.0.0.1:0").ioThreads(2).build().start();
        closeables.add(server);
        return server;
    }

    private DnsServer server(DnsCache cache) {
        return server(cache, DnsServer.builder(cache));
    }

    @Test
    void digGetsAMissFromUnboundThenTheSameAnswerFromTheCacheWithItsTtlCountingDown() {
        DnsCache cache = cache(unbound.address());
        DnsServer server = server(cache);

        Dig.Result miss = Dig.query(server.address(), "app.e2e.test", "A");
        assertThat(miss.status()).isEqualTo("NOERROR");
        assertThat(miss.flags()).contains("qr", "rd", "ra");
        assertThat(miss.section("ANSWER")).containsExactly("app.e2e.test. 30 IN A 10.9.0.1");
        long upstream = cache.stats().upstreamQueries();

        ticker.advance(Duration.ofSeconds(7));
        Dig.Result hit = Dig.query(server.address(), "app.e2e.test", "A");
        assertThat(hit.section("ANSWER")).containsExactly("app.e2e.test. 23 IN A 10.9.0.1");
        Dig.Result tcpHit = Dig.query(server.address(), "+tcp", "app.e2e.test", "AAAA");
        assertThat(tcpHit.section("ANSWER")).containsExactly("app.e2e.test. 30 IN AAAA fd00::9:1");
        Dig.Result tcpAgain = Dig.query(server.address(), "+tcp", "app.e2e.test", "A");
        assertThat(tcpAgain.section("ANSWER")).containsExactly("app.e2e.test. 23 IN A 10.9.0.1");

        assertThat(cache.stats().upstreamQueries()).isEqualTo(upstream + 1); // only the AAAA miss went upstream
        assertThat(cache.stats().hits()).isEqualTo(2);
        DnsServerStats stats = server.stats();
        assertThat(stats.udpQueries()).isEqualTo(2);
        assertThat(stats.tcpQueries()).isEqualTo(2);
        assertThat(stats.responses("NOERROR")).isEqualTo(4);
    }

    @Test
    void theResponseEchoesTheQuestionInTheClientsLetterCase() {
        DnsServer server = server(cache(unbound.address()));
        Dig.Result first = Dig.query(server.address(), "app.e2e.test", "A");
        assertThat(first.status()).isEqualTo("NOERROR");

        Dig.Result mixed = Dig.query(server.address(), "ApP.E2e.TeSt", "A");
        assertThat(mixed.section("QUESTION")).containsExactly(";ApP.E2e.TeSt. IN A");
        assertThat(mixed.section("ANSWER")).containsExactly("ApP.E2e.TeSt. 30 IN A 10.9.0.1");
    }

    @Test
    void aMissingNameIsNxdomainWithTheZonesSoaOverUdpAndTcp() {
        DnsServer server = server(cache(unbound.address()));
        for (String transport : List.of("+notcp", "+tcp")) {
            Dig.Result nx = Dig.query(server.address(), transport, "gone.e2e.test", "A");
            assertThat(nx.status()).isEqualTo("NXDOMAIN");
            assertThat(nx.section("ANSWER")).isEmpty();
            assertThat(nx.section("AUTHORITY")).singleElement().asString().contains("IN SOA ns.e2e.test.");
        }
        assertThat(server.stats().responses("NXDOMAIN")).isEqualTo(2);
    }

    @Test
    void aCnameChainComesWhole() {
        DnsServer server = server(cache(unbound.address()));
        Dig.Result chain = Dig.query(server.address(), "www.e2e.test", "A");
        assertThat(chain.section("ANSWER"))
                .containsExactly(
                        "www.e2e.test. 30 IN CNAME web.e2e.test.",
                        "web.e2e.test. 30 IN CNAME app.e2e.test.",
                        "app.e2e.test. 30 IN A 10.9.0.1");
    }

    @Test
    void aLargeAnswerIsTruncatedOverUdpAndWholeOverTcp() {
        DnsServer server = server(cache(unbound.address()));
        // +ignore: show the UDP response as it came instead of retrying over TCP.
        Dig.Result udp = Dig.query(server.address(), "+ignore", "many.e2e.test", "A");
        assertThat(udp.status()).isEqualTo("NOERROR");
        assertThat(udp.flags()).contains("tc");
        assertThat(udp.section("ANSWER")).isEmpty();
        Dig.Result noEdns = Dig.query(server.address(), "+ignore", "+noedns", "many.e2e.test", "A");
        assertThat(noEdns.flags()).contains("tc");
        // A client offering 4096 bytes still gets at most 1232 over UDP (no fragmented answers, as unbound).
        Dig.Result big = Dig.query(server.address(), "+ignore", "+bufsize=4096", "many.e2e.test", "A");
        assertThat(big.flags()).contains("tc");

        // What a client does next: dig retries over TCP by itself.
        Dig.Result retried = Dig.query(server.address(), "many.e2e.test", "A");
        assertThat(retried.output()).contains("Truncated, retrying in TCP mode");
        assertThat(retried.section("ANSWER")).hasSize(MANY);
        Dig.Result tcp = Dig.query(server.address(), "+tcp", "many.e2e.test", "A");
        assertThat(tcp.flags()).doesNotContain("tc");
        assertThat(tcp.section("ANSWER")).hasSize(MANY);
        assertThat(server.stats().truncated()).isEqualTo(4);
    }

    @Test
    void anyAndZoneTransfersAreRefused() {
        DnsServer server = server(cache(unbound.address()));
        assertThat(Dig.query(server.address(), "app.e2e.test", "ANY").status()).isEqualTo("REFUSED");
        assertThat(Dig.query(server.address(), "+tcp", "app.e2e.test", "ANY").status())
                .isEqualTo("REFUSED");
        assertThat(Dig.query(server.address(), "app.e2e.test", "A", "CH").status())
                .isEqualTo("REFUSED");
        Dig.Result axfr = Dig.query(server.address(), "e2e.test", "AXFR");
        assertThat(axfr.output()).contains("Transfer failed");
        assertThat(server.stats().responses("REFUSED")).isEqualTo(4);
    }

    @Test
    void overItsRateLimitOneClientIsDroppedWhileAnotherStillGetsAnswers() {
        DnsCache cache = cache(unbound.address());
        DnsServer server =
                server(cache, DnsServer.builder(cache).rateLimit(DnsRateLimit.of(2, Duration.ofMinutes(10))));
        // dig -b: the source address; every 127.0.0.0/8 address is this machine's.
        for (int i = 0; i < 2; i++) {
            assertThat(Dig.query(server.address(), "-b", "127.0.0.2", "app.e2e.test", "A")
                            .status())
                    .isEqualTo("NOERROR");
        }
        Dig.Result dropped = Dig.query(server.address(), "-b", "127.0.0.2", "+time=1", "app.e2e.test", "A");
        assertThat(dropped.timedOut()).as(dropped.output()).isTrue();
        assertThat(Dig.query(server.address(), "-b", "127.0.0.3", "app.e2e.test", "A")
                        .status())
                .isEqualTo("NOERROR");
        assertThat(server.stats().rateLimited()).isEqualTo(1);
    }

    @Test
    void overItsRateLimitAClientCanBeRefusedInstead() {
        DnsCache cache = cache(unbound.address());
        DnsServer server = server(
                cache,
                DnsServer.builder(cache)
                        .rateLimit(DnsRateLimit.of(1, Duration.ofMinutes(10))
                                .withOverLimit(DnsRateLimit.OverLimit.REFUSE)));
        assertThat(Dig.query(server.address(), "-b", "127.0.0.4", "app.e2e.test", "A")
                        .status())
                .isEqualTo("NOERROR");
        Dig.Result refused = Dig.query(server.address(), "-b", "127.0.0.4", "app.e2e.test", "A");
        assertThat(refused.status()).isEqualTo("REFUSED");
        assertThat(refused.section("QUESTION")).containsExactly(";app.e2e.test. IN A");
        assertThat(Dig.query(server.address(), "-b", "127.0.0.4", "+tcp", "app.e2e.test", "A")
                        .status())
                .isEqualTo("REFUSED");
    }

    @Test
    void whenUnboundStopsDigGetsStaleAnswers() {
        UnboundServer own = UnboundServer.start(zone());
        closeables.add(own);
        DnsCache cache = cache(own.address());
        DnsServer server = server(cache);
        assertThat(Dig.query(server.address(), "stale.e2e.test", "A").section("ANSWER"))
                .containsExactly("stale.e2e.test. 2 IN A 10.9.0.2");
        own.stop();
        ticker.advance(Duration.ofSeconds(5)); // TTL 2 s: expired, within staleFor (1 h)

        Dig.Result stale = Dig.query(server.address(), "stale.e2e.test", "A");
        assertThat(stale.status()).isEqualTo("NOERROR");
        // RFC 8767: stale answers carry a TTL of 30 s.
        assertThat(stale.section("ANSWER")).containsExactly("stale.e2e.test. 30 IN A 10.9.0.2");
        assertThat(Dig.query(server.address(), "+tcp", "stale.e2e.test", "A").section("ANSWER"))
                .containsExactly("stale.e2e.test. 30 IN A 10.9.0.2");
        assertThat(cache.stats().staleServed()).isGreaterThanOrEqualTo(2);
        // A name never seen has nothing stale: SERVFAIL.
        assertThat(Dig.query(server.address(), "app.e2e.test", "A").status()).isEqualTo("SERVFAIL");
    }
}
