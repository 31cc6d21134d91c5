package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.server.config.ConfigException;
import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.RedisServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guards from YAML in the standalone server: two servers sharing the maintenance switch through a real
 * redis-server, the admin API's windows and routes endpoints, the JSON page, and the access lists (curl from several
 * loopback addresses).
 */
class GuardsServerTest {
    @TempDir
    Path dir;

    private Path config(String name, String yaml) throws IOException {
        return Files.writeString(dir.resolve(name), yaml);
    }

    @Test
    void twoServersShareTheMaintenanceSwitchAndTheAdminApiSchedulesWindowsAndRoutes() throws Exception {
        try (RedisServer redis = RedisServer.start()) {
            Files.writeString(dir.resolve("maintenance.json"), "{\"message\":\"back soon\"}");
            String yaml = """
                    listeners:
                      - { name: web, protocol: http, address: "127.0.0.1:0" }
                    routes:
                      - { name: billing, match: { pathPrefix: /billing }, upstream: demo }
                      - { name: shop, match: { pathPrefix: / }, upstream: demo }
                    upstreams:
                      demo: { endpoints: [ "127.0.0.1:%d" ] }
                    demo: { echo: "127.0.0.1:%d" }
                    admin: { address: "127.0.0.1:0" }
                    redis: { address: "%s" }
                    maintenance:
                      redis: { key: "torii:maintenance:it" }
                      jsonPage: maintenance.json
                      bypassPaths: [ /healthz ]
                      windows: [ { start: "2020-01-01T00:00:00Z", end: "2020-01-01T01:00:00Z" } ]
                    """;
            int p1 = freePort();
            int p2 = freePort();
            try (ToriiServer a = ToriiServer.start(
                            ConfigLoader.load(config("a.yaml", yaml.formatted(p1, p1, redis.hostPort()))));
                    ToriiServer b = ToriiServer.start(
                            ConfigLoader.load(config("b.yaml", yaml.formatted(p2, p2, redis.hostPort()))))) {
                String adminA =
                        "http://127.0.0.1:" + a.admin().orElseThrow().address().getPort();
                String webB = "http://127.0.0.1:" + b.gateway().address("web").getPort();
                assertThat(await(() -> a.maintenance().stats().redisConnected()
                                && b.maintenance().stats().redisConnected()))
                        .isTrue();
                assertThat(curl(adminA + "/maintenance"))
                        .isEqualTo("maintenance off (switch off, file absent, redis connected)\n");
                assertThat(a.maintenance().windows()).hasSize(1);

                curl("-X", "PUT", adminA + "/maintenance");
                assertThat(await(() -> b.maintenance().enabled()))
                        .as("B follows A")
                        .isTrue();
                assertThat(curl("-i", "-H", "accept: application/json", webB + "/shop"))
                        .startsWith("HTTP/1.1 503")
                        .endsWith("{\"message\":\"back soon\"}");
                assertThat(curl("-i", webB + "/healthz")).startsWith("HTTP/1.1 200");
                curl("-X", "DELETE", adminA + "/maintenance");
                assertThat(await(() -> !b.maintenance().enabled())).isTrue();

                assertThat(curl("-X", "PUT", adminA + "/maintenance/routes?route=billing"))
                        .isEqualTo("maintenance off (switch off, file absent, routes [billing], redis connected)\n");
                assertThat(await(() -> b.maintenance().routesSwitchedOn().contains("billing")))
                        .isTrue();
                assertThat(curl("-i", webB + "/billing/1")).startsWith("HTTP/1.1 503");
                assertThat(curl("-i", webB + "/shop")).startsWith("HTTP/1.1 200");

                assertThat(
                                curl(
                                        "-X",
                                        "POST",
                                        adminA
                                                + "/maintenance/windows?start=2030-01-01T00:00:00Z&end=2030-01-01T02:00:00%2B01:00&routes=shop"))
                        .isEqualTo("2020-01-01T00:00:00Z 2020-01-01T01:00:00Z\n"
                                + "2030-01-01T00:00:00Z 2030-01-01T01:00:00Z shop\n");
                assertThat(curl("-X", "POST", adminA + "/maintenance/windows?start=2030-01-01T00:00:00Z&end=soon"))
                        .isEqualTo("end: 'soon' (expected: an ISO-8601 time with offset, e.g. 2026-12-03T22:00:00Z)\n");
                assertThat(curl(
                                "-X",
                                "DELETE",
                                adminA + "/maintenance/windows?start=2020-01-01T00:00:00Z&end=2020-01-01T01:00:00Z"))
                        .isEqualTo("2030-01-01T00:00:00Z 2030-01-01T01:00:00Z shop\n");
            }
        }
    }

    @Test
    void accessListsFromYamlRefuseClientsByAddressGloballyAndPerRoute() throws Exception {
        int echo = freePort();
        Files.writeString(dir.resolve("blocked.txt"), "deny 127.0.0.4\n");
        Path file = config("torii.yaml", """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { name: admin, match: { pathPrefix: /admin }, upstream: demo }
                  - { name: shop, match: { pathPrefix: / }, upstream: demo }
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                admin: { address: "127.0.0.1:0" }
                access:
                  deny: [ 127.0.0.2 ]
                  file: blocked.txt
                  routes:
                    admin: { allow: [ 127.0.0.3 ] }
                """.formatted(echo, echo));
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            String web = "http://127.0.0.1:" + server.gateway().address("web").getPort();
            assertThat(curl("-i", "--interface", "127.0.0.2", web + "/shop"))
                    .startsWith("HTTP/1.1 403")
                    .endsWith("403 ACCESS_DENIED\n");
            assertThat(curl("-i", "--interface", "127.0.0.4", web + "/shop")).startsWith("HTTP/1.1 403");
            assertThat(curl("-i", "--interface", "127.0.0.5", web + "/shop")).startsWith("HTTP/1.1 200");
            assertThat(curl("-i", "--interface", "127.0.0.5", web + "/admin/x")).startsWith("HTTP/1.1 403");
            assertThat(curl("-i", "--http2-prior-knowledge", "--interface", "127.0.0.3", web + "/admin/x"))
                    .startsWith("HTTP/2 200");
            String metrics = curl(
                    "http://127.0.0.1:" + server.admin().orElseThrow().address().getPort() + "/metrics");
            // 127.0.0.2, 127.0.0.4 and 127.0.0.5 on /admin: three requests refused by a list.
            assertThat(metrics).contains("torii_access_denied_total{kind=\"request\"} 3.0");
            assertThat(metrics).contains("torii_maintenance_switches_total");
        }
    }

    @Test
    void badGuardSettingsAreReportedAtTheirLine() throws Exception {
        Path file = config("torii.yaml", """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { name: shop, match: { pathPrefix: / }, upstream: app }
                upstreams:
                  app: { endpoints: [ "127.0.0.1:9" ] }
                maintenance:
                  redis: true
                  windows: [ { start: "2030-01-01T00:00:00Z", end: "tomorrow", routes: [ nope ] } ]
                  bypassTokens: [ short ]
                access:
                  deny: [ 10.0.0.0/40 ]
                  listeners: { webb: { deny: [ 127.0.0.2 ] } }
                """);
        assertThatThrownBy(() -> ConfigLoader.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(
                        "torii.yaml:8:10: maintenance.redis: needs the Redis connection (expected: redis: { address:"
                                + " \"host:port\" } at the top level)")
                .hasMessageContaining("torii.yaml:9:")
                .hasMessageContaining("maintenance.windows[0].end: 'tomorrow' (expected: an ISO-8601 time")
                .hasMessageContaining("maintenance.windows[0].routes[0]: 'nope' (expected one of the routes: shop)")
                .hasMessageContaining("maintenance.bypassTokens: a token of 5 characters (expected: at least 16)")
                .hasMessageContaining("access.deny[0]: '10.0.0.0/40' (expected: a CIDR block")
                .hasMessageContaining("access.listeners.webb: no such listener (expected one of the listeners: web)");
    }

    private static boolean await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return condition.getAsBoolean();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("/usr/bin/curl", "-sS", "--max-time", "10"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("curl exit code; output:\n" + output).isZero();
        return output;
    }
}
