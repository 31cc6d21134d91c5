package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.dns.DnsCache;
import dev.torii.server.config.ConfigError;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.ConfigLoader;
import dev.torii.server.config.DnsSettings;
import dev.torii.server.config.DnsTuning;
import dev.torii.server.config.ServerConfig;
import dev.torii.testing.UnboundServer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code dns:} section of torii.yaml: every key, its errors at FILE:LINE:COLUMN, and docs/dns.md in step. */
class DnsSectionReaderTest {
    @TempDir
    Path dir;

    /** Last, so that the lines of the dns section are as written. */
    private static final String LISTENERS =
            "listeners: [ { name: dns, protocol: dns, address: \"127.0.0.1:5353\" } ]\n";

    private static ServerConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse("torii.yaml", yaml + LISTENERS);
    }

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> parse(yaml));
        assertThat(e).as("expected errors").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }

    @Test
    void everyKeyOfTheSectionAndOfAZoneIsRead() throws Exception {
        ServerConfig c = parse("""
                dns:
                  upstreams: [ "127.0.0.1:53" ]
                  forceTcp: true
                  attempts: 2
                  queryTimeout: 2s
                  retryBackoff: 10ms
                  staleClientTimeout: 20ms
                  staleFor: 10m
                  staleAnswerTtl: 15s
                  minTtl: 2s
                  maxTtl: 10m
                  maxNegativeTtl: 20s
                  failureTtl: 3s
                  refreshAheadAt: 0.9
                  maxEntries: 5000
                  maxInFlight: 64
                  queueLimit: 128
                  searchList: [ prod.svc.cluster.local, svc.cluster.local ]
                  ndots: 5
                  ednsPayloadSize: 1400
                  zones:
                    cluster.local: { upstreams: [ "127.0.0.2:53" ], forceTcp: true, staleFor: 0s, failureTtl: 0s }
                """);
        DnsSettings dns = c.dns().orElseThrow();
        assertThat(dns.tuning())
                .isEqualTo(new DnsTuning(
                        List.of("127.0.0.1:53"),
                        true,
                        2,
                        Duration.ofSeconds(2),
                        Duration.ofMillis(10),
                        Duration.ofMillis(20),
                        Duration.ofMinutes(10),
                        Duration.ofSeconds(15),
                        Duration.ofSeconds(2),
                        Duration.ofMinutes(10),
                        Duration.ofSeconds(20),
                        Duration.ofSeconds(3),
                        0.9));
        assertThat(dns.maxEntries()).isEqualTo(5000);
        assertThat(dns.maxInFlight()).isEqualTo(64);
        assertThat(dns.queueLimit()).isEqualTo(128);
        assertThat(dns.searchList()).containsExactly("prod.svc.cluster.local", "svc.cluster.local");
        assertThat(dns.ndots()).isEqualTo(5);
        assertThat(dns.ednsPayloadSize()).isEqualTo(1400);
        assertThat(dns.zones().get("cluster.local"))
                .isEqualTo(new DnsTuning(
                        List.of("127.0.0.2:53"),
                        true,
                        null,
                        null,
                        null,
                        null,
                        Duration.ZERO,
                        null,
                        null,
                        null,
                        null,
                        Duration.ZERO,
                        null));
        assertThat(dns.resolvConf()).isEmpty();
    }

    @Test
    void wrongValuesAreReportedAtTheirLineAndColumn() {
        assertThat(errors("""
                        dns:
                          upstreams: [ "127.0.0.1:53" ]
                          staleClientTimeout: soon
                          attempts: 0
                          refreshAheadAt: 1.5
                          failureTtl: 10m
                          zones:
                            cluster.local: { upstreams: [ "dns.example:53" ], tcp: true }
                            svc.local: { minTtl: 10s, maxTtl: 5s }
                        """))
                .anySatisfy(e -> assertThat(e).startsWith("torii.yaml:3:23: dns.staleClientTimeout: 'soon'"))
                .anySatisfy(e -> assertThat(e).startsWith("torii.yaml:4:13: dns.attempts: 0 (expected:"))
                .anySatisfy(e -> assertThat(e)
                        .isEqualTo("torii.yaml:5:19: dns.refreshAheadAt: 1.5 (expected: a fraction > 0 and <= 1, like"
                                + " 0.8)"))
                .anySatisfy(e -> assertThat(e).startsWith("torii.yaml:8:35: dns.zones.cluster.local.upstreams[0]:"))
                .anySatisfy(
                        e -> assertThat(e).startsWith("torii.yaml:8:55: dns.zones.cluster.local: unknown key 'tcp'"));

        // The combination, checked by the cache's builder, is reported at the zone's setting it names.
        assertThat(errors("""
                        dns:
                          upstreams: [ "127.0.0.1:53" ]
                          zones:
                            svc.local: { minTtl: 10s, maxTtl: 5s }
                        """))
                .containsExactly("torii.yaml:4:39: dns.zones.svc.local.maxTtl: 5s (expected: >= minTtl (10s))");
        assertThat(errors("""
                        dns:
                          upstreams: [ "127.0.0.1:53" ]
                          failureTtl: 10m
                        """)).containsExactly("torii.yaml:3:15: dns.failureTtl: 10m (expected: >= 0 and <= 5m)");
        assertThat(errors("""
                        dns: { forceTcp: true }
                        """))
                .containsExactly("torii.yaml:1:6: dns.upstreams: missing (expected: DNS servers as IP:port, e.g. ["
                        + " \"10.96.0.10:53\" ])");
        assertThat(errors("""
                        dns: { resolvConf: no-such-resolv.conf }
                        """))
                .containsExactly(
                        "torii.yaml:1:20: dns.resolvConf: no-such-resolv.conf (expected: a readable" + " resolv.conf)");
    }

    @Test
    void resolvConfImportsServersSearchListAndNdotsSoShortNamesResolve() throws Exception {
        try (UnboundServer unbound = UnboundServer.start(List.of(
                "local-zone: \".\" static",
                "local-zone: \"svc.cluster.local.\" static",
                "local-data: \"svc.cluster.local. 3600 IN SOA ns.cluster.local. admin.cluster.local. 1 3600 600 86400 5\"",
                "local-data: \"redis.prod.svc.cluster.local. 30 IN A 10.96.3.3\""))) {
            Files.writeString(
                    dir.resolve("resolv.conf"),
                    "nameserver 127.0.0.1\nsearch prod.svc.cluster.local svc.cluster.local cluster.local\n"
                            + "options ndots:5 timeout:2 attempts:1\n");
            // resolv.conf has no port; the section's upstreams (its own key) override the imported servers.
            ServerConfig c = parse("dns:\n  resolvConf: " + dir.resolve("resolv.conf") + "\n  upstreams: [ \"127.0.0.1:"
                    + unbound.address().getPort() + "\" ]\n");
            assertThat(c.dns().orElseThrow().resolvConf()).contains(dir.resolve("resolv.conf"));
            try (DnsCache cache = c.dns().orElseThrow().newCache()) {
                assertThat(cache.resolve("redis").get(10, TimeUnit.SECONDS))
                        .containsExactly(InetAddress.ofLiteral("10.96.3.3"));
            }
        }
    }

    @Test
    void docsDnsMdListsExactlyTheKeysTheSectionAccepts() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "dns.md"));
        int start = doc.indexOf("## The `dns:` section in torii.yaml");
        assertThat(start).as("docs/dns.md has the section").isNotNegative();
        int end = doc.indexOf("\n## ", start + 1);
        Matcher row = Pattern.compile("(?m)^\\| `([A-Za-z]+)` \\| (zone)? ?\\|").matcher(doc.substring(start, end));
        List<String> keys = new ArrayList<>();
        List<String> zoneKeys = new ArrayList<>();
        while (row.find()) {
            keys.add(row.group(1));
            if (row.group(2) != null) {
                zoneKeys.add(row.group(1));
            }
        }
        assertThat(keys).containsExactlyInAnyOrderElementsOf(DnsSectionReader.SECTION_KEYS);
        assertThat(zoneKeys).containsExactlyInAnyOrderElementsOf(DnsSectionReader.ZONE_KEYS);
        assertThat(Optional.of(keys.size())).contains(DnsSectionReader.SECTION_KEYS.size());
    }
}
