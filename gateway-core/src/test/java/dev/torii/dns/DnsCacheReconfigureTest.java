package dev.torii.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.testing.UnboundServer;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link DnsCache#reconfigure} against two real unbound servers that answer the same names differently ("old" and
 * "new"): a reload that points a forward zone at the other server sends that zone's next lookups there, while answers
 * of names whose servers did not change stay cached.
 */
class DnsCacheReconfigureTest {
    private static UnboundServer oldServer;
    private static UnboundServer newServer;

    @BeforeAll
    static void start() {
        oldServer = UnboundServer.start(zone("10.1.0.1"));
        newServer = UnboundServer.start(zone("10.2.0.2"));
    }

    private static List<String> zone(String address) {
        return List.of(
                "local-zone: \".\" static",
                "local-zone: \"svc.test.\" static",
                "local-data: \"svc.test. 3600 IN SOA ns.svc.test. admin.svc.test. 1 3600 600 86400 5\"",
                "local-data: \"a.svc.test. 300 IN A " + address + "\"",
                "local-data: \"b.svc.test. 300 IN A " + address + "\"",
                "local-zone: \"other.test.\" static",
                "local-data: \"other.test. 3600 IN SOA ns.other.test. admin.other.test. 1 3600 600 86400 5\"",
                "local-data: \"keep.other.test. 300 IN A " + address + "\"");
    }

    @AfterAll
    static void stop() {
        oldServer.close();
        newServer.close();
    }

    private static DnsCache.Builder settings(UnboundServer zoneServer) {
        return DnsCache.builder()
                .upstreams(List.of(oldServer.address()))
                .queryTimeout(Duration.ofSeconds(5))
                .zone("svc.test", z -> z.upstreams(List.of(zoneServer.address())));
    }

    private static String first(DnsCache dns, String name) {
        List<InetAddress> addresses = dns.resolve(name).join();
        return addresses.getFirst().getHostAddress();
    }

    @Test
    void aReloadThatChangesAZonesUpstreamSendsItsNextMissToTheNewUpstreamAndKeepsTheOtherZonesAnswers() {
        try (DnsCache dns = settings(oldServer).build()) {
            assertThat(first(dns, "a.svc.test")).isEqualTo("10.1.0.1");
            assertThat(first(dns, "keep.other.test")).isEqualTo("10.1.0.1");
            long queries = dns.stats().upstreamQueries();

            dns.reconfigure(settings(newServer));

            // The zone's cached answer came from its old server: dropped, asked again of the new one.
            assertThat(first(dns, "a.svc.test")).isEqualTo("10.2.0.2");
            // A name never asked before: a miss, sent to the new server.
            assertThat(first(dns, "b.svc.test")).isEqualTo("10.2.0.2");
            long afterZone = dns.stats().upstreamQueries();
            assertThat(afterZone).isGreaterThan(queries); // counters keep counting across the swap
            // The root's servers did not change: its answer is still cached, no upstream query.
            long hits = dns.stats().hits();
            assertThat(first(dns, "keep.other.test")).isEqualTo("10.1.0.1");
            assertThat(dns.stats().upstreamQueries()).isEqualTo(afterZone);
            assertThat(dns.stats().hits()).isGreaterThan(hits);
        }
    }

    @Test
    void aReloadWithAnInvalidSettingIsRefusedWithItsMessageAndChangesNothing() {
        try (DnsCache dns = settings(oldServer).build()) {
            assertThat(first(dns, "a.svc.test")).isEqualTo("10.1.0.1");
            assertThatThrownBy(() -> dns.reconfigure(settings(newServer).failureTtl(Duration.ofHours(1))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("failureTtl: 1h (expected: >= 0 and <= 5m)");
            dns.invalidateAll();
            assertThat(first(dns, "a.svc.test")).isEqualTo("10.1.0.1");
        }
    }
}
