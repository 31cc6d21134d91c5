package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.Listener;
import dev.torii.ratelimit.Bandwidth;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The DoS settings of torii.yaml that live in other sections: connection rates per client, globally and per listener. */
class DosConfigTest {
    @Test
    void newConnectionsPerClientIsReadGloballyAndPerListener() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:8080" }
                  - { name: api, protocol: http, address: "127.0.0.1:8081", newConnectionsPerClient: { rate: 5, per: 1m } }
                  - { name: raw, protocol: tcp, address: "127.0.0.1:9000", upstream: app, newConnectionsPerClient: { rate: 2, burst: 4 } }
                upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                limits:
                  newConnectionsPerClient: { rate: 20, per: 1s, burst: 40 }
                """);
        assertThat(c.limits().newConnectionsPerClient()).contains(new Bandwidth(20, Duration.ofSeconds(1), 40));
        Listener web = c.listeners().get(0);
        Listener api = c.listeners().get(1);
        assertThat(web.options().newConnectionsPerClient()).isEmpty();
        assertThat(api.options().newConnectionsPerClient())
                .isEqualTo(Optional.of(new Bandwidth(5, Duration.ofMinutes(1), 5)));
        assertThat(c.tcpListeners().get(0).listener().options().newConnectionsPerClient())
                .contains(new Bandwidth(2, Duration.ofSeconds(1), 4));
    }

    @Test
    void withoutTheSettingThereIsNoConnectionRate() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners: [ { name: web, protocol: http, address: "127.0.0.1:8080" } ]
                upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                """);
        assertThat(c.limits().newConnectionsPerClient()).isEmpty();
        assertThat(c.listeners().get(0).options().newConnectionsPerClient()).isEmpty();
    }

    @Test
    void badConnectionRatesAreReportedAtTheirValue() {
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8080", newConnectionsPerClient: { per: 1s } }
                          - { name: raw, protocol: tcp, address: "127.0.0.1:9000", upstream: app, newConnectionsPerClient: { rate: 0 } }
                        upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                        limits:
                          newConnectionsPerClient: { rate: 1, per: soon, colour: red }
                        """))
                .containsExactly(
                        "torii.yaml:2:86: listeners[0].newConnectionsPerClient: missing key 'rate' (expected:"
                                + " connections per 'per', e.g. { rate: 20, per: 1s, burst: 40 })",
                        "torii.yaml:3:108: listeners[1].newConnectionsPerClient.rate: 0 (expected: > 0)",
                        "torii.yaml:6:44: limits.newConnectionsPerClient.per: 'soon' (expected: a duration like 500ms,"
                                + " 10s, 5m or 1h)",
                        "torii.yaml:6:50: limits.newConnectionsPerClient: unknown key 'colour' (expected one of: rate,"
                                + " per, burst)");
    }

    @Test
    void aListenersRateLimitAndAccessAreRead() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:8080", rateLimit: { rate: 10 }, access: { deny: [ 10.0.0.0/8 ] } }
                  - { name: raw, protocol: tcp, address: "127.0.0.1:9000", upstream: app, rateLimit: [ per-ip ], access: { allow: [ 127.0.0.1 ] } }
                rateLimits:
                  per-ip: { key: clientIp, rate: 5 }
                upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                """);
        assertThat(c.rateLimits().listeners())
                .isEqualTo(java.util.Map.of("web", List.of("listener:web"), "raw", List.of("per-ip")));
        assertThat(c.rateLimits().policies().get("listener:web").bandwidths())
                .containsExactly(new Bandwidth(10, Duration.ofSeconds(1), 10));
        assertThat(c.guards().access().listeners().get("web").deny()).containsExactly("10.0.0.0/8");
        assertThat(c.guards().access().listeners().get("raw").allow()).containsExactly("127.0.0.1");
    }

    @Test
    void aListenersRateLimitMustSuitItsListenerAndItsListIsWrittenOnce() {
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8080", rateLimit: by-route, access: { deny: [ 10.0.0.0/8 ] } }
                          - { name: raw, protocol: tcp, address: "127.0.0.1:9000", upstream: app, rateLimit: by-key }
                        rateLimits:
                          by-route: { key: route, rate: 5 }
                          by-key: { key: "header:x-key", rate: 5 }
                        access: { listeners: { web: { deny: [ 10.0.0.1 ] } } }
                        upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                        """))
                .containsExactly(
                        "torii.yaml:2:72: listeners[0].rateLimit: policy 'by-route' is keyed by route (expected: on a"
                                + " route; a listener's rateLimit runs before routing)",
                        "torii.yaml:2:90: listeners[0].access: listener 'web' has a list under access.listeners too"
                                + " (expected: one of them)",
                        "torii.yaml:3:86: listeners[1].rateLimit: policy 'by-key' is keyed by header:x-key (expected:"
                                + " clientIp on a tcp listener: a connection has no headers or cookies)");
    }

    @Test
    void minRequestBodyRateIsReadWithItsDefaultsAndCheckedAtItsValues() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners: [ { name: web, protocol: http, address: "127.0.0.1:8080" } ]
                upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                limits: { minRequestBodyRate: { bytes: 8k } }
                """);
        assertThat(c.limits().minRequestBodyRate())
                .contains(new dev.torii.MinBodyRate(8192, Duration.ofSeconds(1), Duration.ofSeconds(5)));
        assertThat(errors("""
                        listeners: [ { name: web, protocol: http, address: "127.0.0.1:8080" } ]
                        upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                        limits: { minRequestBodyRate: { bytes: 0, grace: -1s } }
                        """))
                .containsExactly(
                        "torii.yaml:3:40: limits.minRequestBodyRate.bytes: 0 (expected: > 0)",
                        "torii.yaml:3:50: limits.minRequestBodyRate.grace: '-1s' (expected: a duration like 500ms,"
                                + " 10s, 5m or 1h)");
        assertThat(errors("""
                        listeners: [ { name: web, protocol: http, address: "127.0.0.1:8080" } ]
                        upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
                        limits: { minRequestBodyRate: { bytes: 1, per: 5ms } }
                        """))
                .containsExactly("torii.yaml:3:48: limits.minRequestBodyRate.per: 5ms (expected: >= 10ms)");
    }

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }
}
