package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.dns.DnsRateLimit;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The dns listener's and the admin section's keys in torii.yaml: what they build, and their errors with positions. */
class DnsListenerConfigTest {
    private static final String DNS = """
            dns: { upstreams: [ "127.0.0.1:53" ] }
            """;

    @Test
    void aDnsListenerWithEveryKeyBuildsItsSettings() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - name: node-dns
                    protocol: dns
                    address: "169.254.20.10:53"
                    rateLimit: { rate: 200, per: 1s, burst: 400, overLimit: refuse, maxClients: 5000 }
                    tcpIdleTimeout: 5s
                    maxTcpConnections: 64
                    maxPendingQueries: 500
                admin: { address: "127.0.0.1:9901" }
                """ + DNS);
        assertThat(c.listeners()).isEmpty();
        assertThat(c.dnsListeners())
                .containsExactly(new DnsListenerSettings(
                        "node-dns",
                        "169.254.20.10:53",
                        Optional.of(
                                new DnsRateLimit(200, Duration.ofSeconds(1), 400, DnsRateLimit.OverLimit.REFUSE, 5000)),
                        Duration.ofSeconds(5),
                        64,
                        500));
        assertThat(c.admin()).contains(new AdminSettings("127.0.0.1", 9901));
    }

    @Test
    void defaultsAreNoRateLimitTenSecondIdleAndTheBuildersBounds() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: dns, protocol: dns, address: "127.0.0.1:5353" }
                  - { name: web, protocol: http, address: "127.0.0.1:8080" }
                """ + DNS);
        assertThat(c.listeners()).hasSize(1);
        assertThat(c.dnsListeners())
                .containsExactly(new DnsListenerSettings(
                        "dns", "127.0.0.1:5353", Optional.empty(), Duration.ofSeconds(10), 1024, 10_000));
        assertThat(c.admin()).isEmpty();
        ServerConfig limited = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: dns, protocol: dns, address: "127.0.0.1:5353", rateLimit: { rate: 50 } }
                """ + DNS);
        assertThat(limited.dnsListeners().getFirst().rateLimit()).contains(DnsRateLimit.of(50, Duration.ofSeconds(1)));
    }

    @Test
    void badRateLimitValuesAreReportedAtTheirPositions() {
        assertThat(errors("""
                        listeners:
                          - name: dns
                            protocol: dns
                            address: "127.0.0.1:5353"
                            rateLimit: { rate: 0, per: soon, burst: -1, overLimit: ignore, colour: red }
                        """ + DNS))
                .containsExactly(
                        "torii.yaml:5:24: listeners[0].rateLimit.rate: 0 (expected: > 0)",
                        "torii.yaml:5:32: listeners[0].rateLimit.per: 'soon' (expected: a duration like 500ms, 10s, 5m"
                                + " or 1h)",
                        "torii.yaml:5:45: listeners[0].rateLimit.burst: -1 (expected: > 0)",
                        "torii.yaml:5:60: listeners[0].rateLimit.overLimit: 'ignore' (expected one of: drop, refuse)",
                        "torii.yaml:5:68: listeners[0].rateLimit: unknown key 'colour' (expected one of: rate, per,"
                                + " burst, overLimit, maxClients)");
        assertThat(errors("""
                        listeners:
                          - { name: dns, protocol: dns, address: "127.0.0.1:5353", rateLimit: { per: 1s } }
                        """ + DNS))
                .containsExactly("torii.yaml:2:71: listeners[0].rateLimit: missing key 'rate' (expected: queries per"
                        + " 'per' and client, e.g. rate: 200)");
    }

    @Test
    void dnsListenersNeedTheDnsSectionAnIpAddressAndTheirOwnKeys() {
        assertThat(errors("""
                        listeners:
                          - { name: dns, protocol: dns, address: "127.0.0.1:5353" }
                        """))
                .containsExactly(
                        "torii.yaml:2:28: listeners[0].protocol: 'dns' needs the dns section, whose cache it serves"
                                + " (expected: dns: { upstreams: [ \"10.96.0.10:53\" ] } at the top level)");
        assertThat(errors("""
                        listeners:
                          - { name: dns, protocol: dns, address: "localhost:53" }
                          - { name: web, protocol: http, address: "127.0.0.1:8080", tcpIdleTimeout: 5s }
                          - { name: dup, protocol: dns, address: "127.0.0.1:8080" }
                        """ + DNS))
                .containsExactly(
                        "torii.yaml:2:42: listeners[0].address: 'localhost:53' (expected: an IP address and a port for"
                                + " a dns listener, like 169.254.20.10:53)",
                        "torii.yaml:3:61: listeners[1].tcpIdleTimeout: only for listeners with protocol dns (this one"
                                + " is 'http')",
                        "torii.yaml:4:42: listeners[2].address: '127.0.0.1:8080' (expected: unique; listeners[1]"
                                + " listens there already)");
    }

    @Test
    void theAdminAddressIsCheckedToo() {
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8080" }
                        admin: { address: "127.0.0.1:8080", port: 1 }
                        """))
                .containsExactly(
                        "torii.yaml:3:19: admin.address: '127.0.0.1:8080' (expected: an address no listener uses;"
                                + " listener 'web' is there)",
                        "torii.yaml:3:37: admin: unknown key 'port' (expected one of: address, token)");
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8080" }
                        admin: { address: "nowhere" }
                        """))
                .containsExactly(
                        "torii.yaml:3:19: admin.address: 'nowhere' (expected: host:port, e.g." + " 127.0.0.1:9901)");
    }

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }
}
