package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.maintenance.MaintenanceMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code protocol: tcp} listener keys and the {@code maintenance} section of torii.yaml. */
class TcpAndMaintenanceConfigTest {
    @TempDir
    Path dir;

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }

    @Test
    void aTcpListenerAndTheMaintenanceSectionAreRead() throws Exception {
        Files.writeString(dir.resolve("maintenance.html"), "<h1>Back soon</h1>");
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:8080" }
                  - { name: cache, protocol: tcp, address: "127.0.0.1:6380", upstream: redis, idleTimeout: 1h }
                upstreams:
                  redis: { endpoints: [ "127.0.0.1:6379" ], connectTimeout: 1s }
                maintenance:
                  enabled: false
                  file: maintenance.on
                  page: maintenance.html
                  retryAfter: 2m
                  bypass: [ 10.0.0.0/8, "::1" ]
                """);

        ServerConfig c = ConfigLoader.load(file);

        assertThat(c.listeners()).extracting(l -> l.name()).containsExactly("web");
        assertThat(c.tcpListeners()).singleElement().satisfies(t -> {
            assertThat(t.listener().name()).isEqualTo("cache");
            assertThat(t.listener().port()).isEqualTo(6380);
            assertThat(t.listener().upstream()).isEqualTo("redis");
            assertThat(t.listener().idleTimeout()).isEqualTo(Duration.ofHours(1));
            assertThat(t.plugins()).isEmpty();
        });
        MaintenanceSettings m = c.maintenance();
        assertThat(m.file()).hasValue(dir.resolve("maintenance.on"));
        assertThat(m.page())
                .get()
                .extracting(b -> new String(b, StandardCharsets.UTF_8))
                .isEqualTo("<h1>Back soon</h1>");
        assertThat(m.contentType()).isEqualTo("text/html; charset=utf-8");
        assertThat(m.retryAfter()).isEqualTo(Duration.ofMinutes(2));
        MaintenanceMode mode = m.newMode();
        assertThat(mode.enabled()).isFalse();
        assertThat(mode.bypass()).containsExactly("10.0.0.0/8", "::1");
        assertThat(c.gatewayBuilder().build()).isNotNull();
    }

    @Test
    void withoutTheSectionMaintenanceIsOffWithDefaults() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: cache, protocol: tcp, address: "127.0.0.1:0", upstream: redis }
                upstreams: { redis: { endpoints: [ "127.0.0.1:6379" ] } }
                """);

        assertThat(c.maintenance()).isEqualTo(MaintenanceSettings.defaults());
        assertThat(c.listeners()).isEmpty();
        assertThat(c.tcpListeners()).hasSize(1);
    }

    @Test
    void tcpListenerProblemsAreReportedAtTheirPositions() {
        assertThat(errors("""
                        listeners:
                          - { name: a, protocol: tcp, address: "127.0.0.1:6380" }
                          - { name: b, protocol: tcp, address: "127.0.0.1:6381", upstream: nope }
                          - { name: c, protocol: http, address: "127.0.0.1:8080", upstream: redis, idleTimeout: 1s }
                          - { name: d, protocol: tcp, address: "127.0.0.1:6381", upstream: redis }
                          - { name: e, protocol: tcp, address: "127.0.0.1:6382", upstream: redis, idleTimeout: 0s }
                        upstreams: { redis: { endpoints: [ "127.0.0.1:6379" ] } }
                        """))
                .containsExactly(
                        "torii.yaml:2:5: listeners[0]: missing key 'upstream' (expected: the upstream a TCP"
                                + " listener's connections go to)",
                        "torii.yaml:3:68: listeners[1].upstream: 'nope' (expected one of: redis)",
                        "torii.yaml:4:69: listeners[2].upstream: only a TCP listener has it (expected: protocol:"
                                + " tcp, or no upstream)",
                        "torii.yaml:4:89: listeners[2].idleTimeout: only a TCP listener has it (expected: protocol:"
                                + " tcp, or no idleTimeout)",
                        "torii.yaml:5:40: listeners[3].address: '127.0.0.1:6381' (expected: unique; listeners[1]"
                                + " listens there already)",
                        "torii.yaml:6:88: listeners[4].idleTimeout: 0s (expected: > 0)");
    }

    @Test
    void maintenanceProblemsAreReportedAtTheirPositions() {
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8080" }
                        maintenance:
                          enabled: maybe
                          page: /nonexistent/maintenance.html
                          contentType: text/html
                          file: /nonexistent/dir/maintenance.on
                          retryAfter: soon
                          bypass: [ 10.0.0.0/33 ]
                          pages: x
                        """))
                .containsExactly(
                        "torii.yaml:4:12: maintenance.enabled: 'maybe' (expected: true or false)",
                        "torii.yaml:5:9: maintenance.page: '/nonexistent/maintenance.html' (expected: a readable"
                                + " file; /nonexistent/maintenance.html: no such file)",
                        "torii.yaml:7:9: maintenance.file: '/nonexistent/dir/maintenance.on' (expected: a path in an"
                                + " existing directory; /nonexistent/dir is not one)",
                        "torii.yaml:8:15: maintenance.retryAfter: 'soon' (expected: a duration like 500ms, 10s, 5m"
                                + " or 1h)",
                        "torii.yaml:9:13: maintenance.bypass[0]: '10.0.0.0/33' (expected: a CIDR block like"
                                + " 10.0.0.0/8 or an address)",
                        "torii.yaml:10:3: maintenance: unknown key 'pages' (did you mean 'page'?)");
    }
}
