package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.upstream.HealthCheck;
import dev.torii.upstream.OutlierDetection;
import dev.torii.upstream.Upstream;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The health keys of an upstream in torii.yaml: {@code outlierDetection}, {@code healthCheck}, {@code panic}. */
class UpstreamHealthConfigTest {
    private static final String HEAD = """
            listeners:
              - { name: web, address: "127.0.0.1:8080" }
            routes:
              - { match: { pathPrefix: / }, upstream: app }
            upstreams:
              app:
                endpoints: [ "127.0.0.1:9001", "127.0.0.1:9002" ]
            """;

    @Test
    void outlierDetectionHealthCheckAndPanicAreRead() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", HEAD + """
                    outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 10s, maxEjectionTime: 1m, maxEjectionPercent: 34 }
                    healthCheck:
                      path: /healthz
                      expectedStatuses: [ 200, "204-206", 3xx ]
                      host: app.internal
                      interval: 2s
                      timeout: 500ms
                      healthyThreshold: 1
                      unhealthyThreshold: 4
                      jitter: 0s
                    panic: true
                """);

        Upstream app = c.routingTable().upstream("app");
        assertThat(app.outlierDetection())
                .isEqualTo(new OutlierDetection(3, Duration.ofSeconds(10), Duration.ofMinutes(1), 34));
        HealthCheck hc = app.healthCheck();
        assertThat(hc.path()).isEqualTo("/healthz");
        assertThat(hc.expectedStatuses()).contains(200, 204, 205, 206, 300, 399).doesNotContain(201, 207, 400);
        assertThat(hc.expectedStatuses()).hasSize(1 + 3 + 100);
        assertThat(hc.host()).isEqualTo("app.internal");
        assertThat(hc.interval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(hc.timeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(hc.healthyThreshold()).isEqualTo(1);
        assertThat(hc.unhealthyThreshold()).isEqualTo(4);
        assertThat(hc.jitter()).isZero();
        assertThat(app.panic()).isTrue();
    }

    @Test
    void omittedKeysTakeTheDefaultsAndNoKeyMeansNoHealthChecking() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", HEAD + """
                    outlierDetection: {}
                    healthCheck: { path: / }
                  plain:
                    endpoints: [ "127.0.0.1:9003" ]
                """);

        Upstream app = c.routingTable().upstream("app");
        assertThat(app.outlierDetection()).isEqualTo(OutlierDetection.DEFAULTS);
        assertThat(app.healthCheck()).isEqualTo(HealthCheck.of("/"));
        assertThat(app.panic()).isFalse();
        Upstream plain = c.routingTable().upstream("plain");
        assertThat(plain.outlierDetection()).isNull();
        assertThat(plain.healthCheck()).isNull();
    }

    @Test
    void aTcpConnectCheckTakesNoHttpKeys() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", HEAD + """
                    healthCheck: { protocol: tcp, interval: 1s, timeout: 200ms }
                """);
        HealthCheck hc = c.routingTable().upstream("app").healthCheck();
        assertThat(hc.connectOnly()).isTrue();
        assertThat(hc.interval()).isEqualTo(java.time.Duration.ofSeconds(1));
        assertThat(errors(HEAD + """
                    healthCheck: { protocol: tcp, path: /healthz }
                """))
                .singleElement()
                .asString()
                .contains("healthCheck.path: only for protocol: http checks");
        assertThat(errors(HEAD + """
                    healthCheck: { protocol: udp }
                """))
                .singleElement()
                .asString()
                .contains("healthCheck.protocol: 'udp' (expected: http or tcp)");
    }

    @Test
    void badHealthSettingsAreReportedAtTheirPosition() {
        assertThat(errors(HEAD + """
                    outlierDetection: { consecutiveFailures: 0, maxEjectionPercent: 101, baseEjectionTime: 1m, maxEjectionTime: 10s }
                    healthCheck:
                      path: healthz
                      expectedStatuses: [ 200, 99, 6xx, "300-200" ]
                      interval: 1s
                      timeout: 2s
                      retries: 3
                    panic: maybe
                """))
                .containsExactly(
                        "torii.yaml:8:46: upstreams.app.outlierDetection.consecutiveFailures: 0 (expected: > 0)",
                        "torii.yaml:8:69: upstreams.app.outlierDetection.maxEjectionPercent: 101 (expected: at most"
                                + " 100)",
                        "torii.yaml:11:32: upstreams.app.healthCheck.expectedStatuses[1]: '99' (expected: a status"
                                + " 100-599, a range such as 200-399, or a class such as 2xx)",
                        "torii.yaml:11:36: upstreams.app.healthCheck.expectedStatuses[2]: '6xx' (expected: a status"
                                + " 100-599, a range such as 200-399, or a class such as 2xx)",
                        "torii.yaml:11:41: upstreams.app.healthCheck.expectedStatuses[3]: '300-200' (expected:"
                                + " statuses within 100-599, low-high)",
                        "torii.yaml:14:7: upstreams.app.healthCheck: unknown key 'retries' (expected one of:"
                                + " protocol, path, expectedStatuses, host, interval, timeout, healthyThreshold, unhealthyThreshold,"
                                + " jitter)",
                        "torii.yaml:15:12: upstreams.app.panic: 'maybe' (expected: true or false)");
    }

    @Test
    void aHealthCheckTimeoutLongerThanItsIntervalIsRefusedAtTheTimeout() {
        assertThat(errors(HEAD + """
                    healthCheck: { path: /h, interval: 1s, timeout: 2s }
                """))
                .containsExactly("torii.yaml:8:53: upstreams.app.healthCheck.timeout: PT2S (expected: at most the"
                        + " time between checks, PT1S)");
    }

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }
}
