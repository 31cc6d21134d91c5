package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.log.AccessLogFormat;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code accessLog} and {@code tracing} sections and {@code admin.token} of torii.yaml. */
class ObservabilityConfigTest {
    private static final String BASE = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:8080" }
            routes:
              - { match: { pathPrefix: / }, upstream: app }
            upstreams:
              app: { endpoints: [ "127.0.0.1:9000" ] }
            """;

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }

    @Test
    void theSectionsAreReadAndAreOffWithoutThem() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", BASE + """
                admin: { address: "127.0.0.1:9901", token: abc }
                accessLog: { format: combined, path: /var/log/torii/access.log }
                tracing: { endpoint: "http://127.0.0.1:4318/v1/traces", samplingRatio: 0.25, serviceName: edge }
                """);
        ObservabilitySettings o = c.observability();
        assertThat(o.accessLog()).get().satisfies(a -> {
            assertThat(a.format()).isEqualTo(AccessLogFormat.COMBINED);
            assertThat(a.path()).hasValue(Path.of("/var/log/torii/access.log"));
        });
        assertThat(o.tracing())
                .hasValue(
                        new ObservabilitySettings.Tracing(URI.create("http://127.0.0.1:4318/v1/traces"), 0.25, "edge"));
        assertThat(o.adminToken()).hasValue("abc");

        ServerConfig none = ConfigLoader.parse("torii.yaml", BASE + "accessLog: {}\n");
        assertThat(none.observability().accessLog()).get().satisfies(a -> {
            assertThat(a.format()).isEqualTo(AccessLogFormat.JSON);
            assertThat(a.path()).isEmpty(); // stdout
        });
        assertThat(none.observability().tracing()).isEmpty();
    }

    @Test
    void badValuesAreReportedAtTheirPosition() {
        assertThat(errors(BASE + """
                        accessLog: { format: xml }
                        tracing: { endpoint: "udp://x", samplingRatio: 2 }
                        """))
                .containsExactly(
                        "torii.yaml:7:22: accessLog.format: 'xml' (expected: json or combined)",
                        "torii.yaml:8:22: tracing.endpoint: 'udp://x' (expected: an OTLP/HTTP URL, e.g."
                                + " http://127.0.0.1:4318/v1/traces)",
                        "torii.yaml:8:48: tracing.samplingRatio: '2' (expected: a number from 0 to 1, e.g. 0.1)");
    }
}
