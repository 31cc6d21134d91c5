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

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }
}
