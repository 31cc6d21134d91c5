package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.route.RetryPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A route's {@code retry} key in torii.yaml. */
class RetryConfigTest {
    private static final String HEAD = """
            listeners:
              - { name: web, address: "127.0.0.1:8080" }
            upstreams:
              app: { endpoints: [ "127.0.0.1:9001", "127.0.0.1:9002" ] }
            routes:
              - upstream: app
            """;

    @Test
    void aRetryPolicyIsRead() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", HEAD + """
                    retry: { attempts: 3, on: [ reset, 503 ], perTryTimeout: 2s, budget: { percent: 10, minConcurrent: 1 } }
                """);

        assertThat(c.routingTable().routes().getFirst().retry())
                .isEqualTo(new RetryPolicy(3, false, true, Set.of(503), Duration.ofSeconds(2), 10, 1));
    }

    @Test
    void onlyAttemptsIsRequiredAndTheRestHasDefaults() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", HEAD + """
                    retry: { attempts: 2 }
                """);

        assertThat(c.routingTable().routes().getFirst().retry()).isEqualTo(RetryPolicy.of(2));
    }

    @Test
    void badRetrySettingsAreReportedAtTheirPosition() {
        ConfigException e =
                catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", HEAD + """
                    retry: { attempts: 11, on: [ 500, timeout ], budget: { percent: 120 } }
                """));

        assertThat(e.errors().stream().map(ConfigError::toString).toList())
                .containsExactly(
                        "torii.yaml:7:24: routes[0].retry.attempts: 11 (expected: at most 10)",
                        "torii.yaml:7:34: routes[0].retry.on[0]: '500' (expected one of: connect-failure, reset, 502,"
                                + " 503, 504)",
                        "torii.yaml:7:39: routes[0].retry.on[1]: 'timeout' (expected one of: connect-failure, reset,"
                                + " 502, 503, 504)",
                        "torii.yaml:7:69: routes[0].retry.budget.percent: 120 (expected: at most 100)");
        assertThat(
                        catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", HEAD + """
                            retry: { on: [ reset ] }
                        """))
                                .errors()
                                .stream()
                                .map(ConfigError::toString))
                .containsExactly("torii.yaml:7:12: routes[0].retry: missing key 'attempts' (expected: the most attempts"
                        + " in all, 1-10)");
    }

    @Test
    void routesWithPluginsOrRateLimitsKeepTheirRetryPolicy() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", HEAD + """
                    retry: { attempts: 2 }
                """);
        var route = c.routingTable().routes().getFirst();

        assertThat(route.withHooks(List.of()).retry()).isEqualTo(route.retry());
    }
}
