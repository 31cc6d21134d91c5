package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.dns.DnsCache;
import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.UnboundServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A configuration reload that points the {@code dns:} section's forward zone at another upstream, with two real unbound
 * servers answering the same name differently: the running cache sends the zone's next miss to the new server.
 */
class DnsReloadTest {
    private static final String CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:0" }
            routes:
              - { name: a, match: { pathPrefix: / }, upstream: demo }
            upstreams:
              demo: { endpoints: [ "127.0.0.1:9" ] }
            dns:
              upstreams: [ "127.0.0.1:%d" ]
              zones:
                svc.test: { upstreams: [ "127.0.0.1:%d" ] }
            ioThreads: 1
            """;

    private static List<String> zone(String address) {
        return List.of(
                "local-zone: \".\" static",
                "local-zone: \"svc.test.\" static",
                "local-data: \"svc.test. 3600 IN SOA ns.svc.test. admin.svc.test. 1 3600 600 86400 5\"",
                "local-data: \"a.svc.test. 300 IN A " + address + "\"",
                "local-data: \"b.svc.test. 300 IN A " + address + "\"");
    }

    @Test
    void aReloadThatMovesAZoneToAnotherUpstreamSendsItsNextMissThere(@TempDir Path dir) throws Exception {
        try (UnboundServer before = UnboundServer.start(zone("10.1.0.1"));
                UnboundServer after = UnboundServer.start(zone("10.2.0.2"))) {
            int root = before.address().getPort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted(root, before.address().getPort()));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                DnsCache dns = server.dnsCache().orElseThrow();
                assertThat(address(dns, "a.svc.test")).isEqualTo("10.1.0.1");

                Files.writeString(file, CONFIG.formatted(root, after.address().getPort()));
                ConfigReloadResult result = server.reload();
                assertThat(result.applied()).as(result.errors().toString()).isTrue();
                assertThat(result.notApplied()).doesNotContain("dns");

                assertThat(address(dns, "b.svc.test")).isEqualTo("10.2.0.2");
                assertThat(address(dns, "a.svc.test")).isEqualTo("10.2.0.2");
            }
        }
    }

    private static String address(DnsCache dns, String name) {
        return dns.resolve(name).join().getFirst().getHostAddress();
    }
}
