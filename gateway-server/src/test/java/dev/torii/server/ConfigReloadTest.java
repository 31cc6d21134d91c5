package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.server.demo.EchoService;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Configuration reload: the file edited while the server runs, then {@link ToriiServer#reload()}, the admin API's
 * {@code POST /reload}, and SIGHUP to a real {@code torii run} process.
 */
class ConfigReloadTest {
    private static final String CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            routes:
              - name: a
                match: { pathPrefix: /a }
                upstream: demo
            %s
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            admin: { address: "127.0.0.1:%d" }
            """;
    private static final String ROUTE_B = """
              - name: b
                match: { pathPrefix: /b }
                upstream: demo
            """;

    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @Test
    void aReloadAddsTheNewRouteAndABrokenFileKeepsTheOldRoutesWithItsErrorsInThePostReloadAnswer(@TempDir Path dir)
            throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int echoPort = echo.address().getPort();
            int webPort = freePort();
            int adminPort = freePort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted(webPort, "", echoPort, adminPort));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(get(webPort, "/a")).isEqualTo(200);
                assertThat(get(webPort, "/b")).isEqualTo(404);

                Files.writeString(file, CONFIG.formatted(webPort, ROUTE_B, echoPort, adminPort));
                ConfigReloadResult ok = server.reload();
                assertThat(ok.applied()).isTrue();
                assertThat(ok.routes()).isEqualTo(2);
                assertThat(ok.notApplied()).isEmpty();
                assertThat(get(webPort, "/b")).isEqualTo(200);
                assertThat(get(webPort, "/a")).isEqualTo(200);

                // A listener moved: applied with the routes; the new port answers, the old one is closed.
                int movedPort = freePort();
                Files.writeString(
                        file,
                        CONFIG.formatted(movedPort, ROUTE_B, echoPort, adminPort)
                                .replace("/b }", "/c }"));
                ConfigReloadResult partial = server.reload();
                assertThat(partial.applied()).isTrue();
                assertThat(partial.notApplied()).isEmpty();
                assertThat(get(movedPort, "/c")).isEqualTo(200);
                assertThat(get(movedPort, "/b")).isEqualTo(404);
                awaitRefused(webPort);

                Files.writeString(
                        file,
                        CONFIG.formatted(webPort, ROUTE_B, echoPort, adminPort)
                                .replace("upstream: demo", "upstream: nope"));
                HttpResponse<String> refused = client.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/reload"))
                                .POST(HttpRequest.BodyPublishers.noBody())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(refused.statusCode()).isEqualTo(400);
                assertThat(refused.body())
                        .contains("\"applied\":false")
                        .containsPattern("torii\\.yaml:\\d+:\\d+: routes\\[0\\]\\.upstream: .*nope");
                assertThat(get(movedPort, "/c"))
                        .as("the running routes and listeners stay")
                        .isEqualTo(200);
                assertThat(get(movedPort, "/a")).isEqualTo(200);

                Files.writeString(file, CONFIG.formatted(webPort, ROUTE_B, echoPort, adminPort));
                HttpResponse<String> accepted = client.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/reload"))
                                .POST(HttpRequest.BodyPublishers.noBody())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(accepted.statusCode()).isEqualTo(200);
                assertThat(accepted.body()).contains("\"applied\":true").contains("\"routes\":2");
                assertThat(get(webPort, "/b")).isEqualTo(200);

                assertThat(server.reloadStats())
                        .containsEntry("ok", 3L)
                        .containsEntry("failed", 1L)
                        .containsEntry("lastResult", "ok");
                String metrics = client.send(
                                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/metrics"))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString())
                        .body();
                assertThat(metrics)
                        .contains("torii_config_reloads_total{result=\"ok\"} 3.0")
                        .contains("torii_config_reloads_total{result=\"failed\"} 1.0")
                        .contains("torii_config_reload_last_time_seconds");
            }
        }
    }

    @Test
    void aReloadedRouteGetsItsRateLimitFromTheRunningPoliciesAndAnUnknownPolicyIsRefused(@TempDir Path dir)
            throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int echoPort = echo.address().getPort();
            int webPort = freePort();
            int adminPort = freePort();
            String limits = "rateLimits:\n  one: { rate: 1, per: 1h, burst: 1 }\n";
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, limits + CONFIG.formatted(webPort, "", echoPort, adminPort));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(get(webPort, "/b")).isEqualTo(404);

                Files.writeString(
                        file,
                        limits + CONFIG.formatted(webPort, ROUTE_B + "    rateLimit: one\n", echoPort, adminPort));
                assertThat(server.reload().applied()).isTrue();
                assertThat(get(webPort, "/b")).isEqualTo(200);
                assertThat(get(webPort, "/b"))
                        .as("the policy's one token is spent")
                        .isEqualTo(429);
                assertThat(get(webPort, "/a")).isEqualTo(200);

                // A policy added to the file runs from the reload on; one the file does not define is refused.
                Files.writeString(
                        file,
                        limits + "  two: { rate: 5 }\n"
                                + CONFIG.formatted(webPort, ROUTE_B + "    rateLimit: two\n", echoPort, adminPort));
                assertThat(server.reload().applied()).isTrue();
                assertThat(get(webPort, "/b"))
                        .as("the new policy's bucket is full")
                        .isEqualTo(200);
                Files.writeString(
                        file,
                        limits + CONFIG.formatted(webPort, ROUTE_B + "    rateLimit: three\n", echoPort, adminPort));
                ConfigReloadResult refused = server.reload();
                assertThat(refused.applied()).isFalse();
                assertThat(refused.errors()).singleElement().asString().contains("three");
                assertThat(get(webPort, "/b"))
                        .as("the old route and its limit stay")
                        .isEqualTo(200);
            }
        }
    }

    @Test
    void sighupReloadsARunningProcessWhichKeepsServing(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int echoPort = echo.address().getPort();
            int webPort = freePort();
            int adminPort = freePort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted(webPort, "", echoPort, adminPort));
            Path log = dir.resolve("torii.log");
            String java = ProcessHandle.current().info().command().orElseThrow();
            Process p = new ProcessBuilder(
                            java,
                            "-cp",
                            System.getProperty("java.class.path"),
                            Main.class.getName(),
                            "run",
                            "--config",
                            file.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            try {
                awaitStatus(webPort, "/a", 200, p, log);
                assertThat(get(webPort, "/b")).isEqualTo(404);

                Files.writeString(file, CONFIG.formatted(webPort, ROUTE_B, echoPort, adminPort));
                kill("-HUP", p.pid());
                awaitStatus(webPort, "/b", 200, p, log);
                assertThat(p.isAlive()).isTrue();
                assertThat(get(webPort, "/a")).isEqualTo(200);

                // A second SIGHUP with a broken file: logged, refused, and the process serves on.
                Files.writeString(file, "routes: [ {\n");
                kill("-HUP", p.pid());
                awaitLog(log, "configuration reload refused", p);
                assertThat(p.isAlive()).isTrue();
                assertThat(get(webPort, "/b")).isEqualTo(200);
                assertThat(Files.readString(log)).contains("ERROR").containsPattern("torii\\.yaml:\\d+:\\d+: ");
            } finally {
                p.destroy();
                if (!p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
    }

    private int get(int port, String path) throws Exception {
        return client.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    /** Polls (bounded: 300 tries, 100 ms apart) until {@code path} answers {@code status}. */
    private void awaitStatus(int port, String path, int status, Process p, Path log) throws Exception {
        int last = -1;
        for (int i = 0; i < 300 && p.isAlive(); i++) {
            try {
                last = get(port, path);
                if (last == status) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new AssertionError("GET " + path + " never answered " + status + " (last " + last + ", alive "
                + p.isAlive() + "); log:\n" + Files.readString(log, StandardCharsets.UTF_8));
    }

    private static void awaitLog(Path log, String text, Process p) throws Exception {
        for (int i = 0; i < 300 && p.isAlive(); i++) {
            if (Files.readString(log, StandardCharsets.UTF_8).contains(text)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("never logged '" + text + "'; log:\n" + Files.readString(log));
    }

    private static void kill(String signal, long pid) throws Exception {
        Process k = new ProcessBuilder(new ArrayList<>(List.of("kill", signal, Long.toString(pid))))
                .inheritIO()
                .start();
        assertThat(k.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(k.exitValue()).isZero();
    }

    /** Polls (bounded: 100 tries, 50 ms apart) until connecting to {@code port} is refused. */
    static void awaitRefused(int port) throws Exception {
        for (int i = 0; i < 100; i++) {
            try (var probe = new java.net.Socket("127.0.0.1", port)) {
                probe.setSoLinger(true, 0);
            } catch (IOException refused) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("port " + port + " still accepts connections");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
