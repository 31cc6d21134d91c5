package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.RedisServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The standalone server from YAML: a TCP listener with a plugin in front of a real redis-server (redis-cli), and the
 * maintenance switch with its flag file and page (curl), also driving the shipped maintenance plugin.
 */
class TcpAndMaintenanceServerTest {
    @TempDir
    Path dir;

    @Test
    void aTcpListenerWithAPluginProxiesRedisAndRejectsWhatThePluginRejects() throws Exception {
        try (RedisServer redis = RedisServer.start()) {
            Path guard = Files.createDirectories(dir.resolve("plugins/guard"));
            Files.writeString(guard.resolve("plugin.json"), """
                    { "name": "guard", "version": "1.0.0", "config": { "type": "object",
                      "properties": { "deny": { "type": "array", "items": { "type": "string" } } } } }
                    """);
            Files.writeString(guard.resolve("plugin.js"), """
                    export function onConnect(conn, cfg) { if (cfg.deny.includes(conn.client.ip)) return conn.reject(); }
                    """);
            Path file = Files.writeString(dir.resolve("torii.yaml"), """
                    listeners:
                      - name: cache
                        protocol: tcp
                        address: "127.0.0.1:0"
                        upstream: redis
                        plugins: [ { name: guard, config: { deny: [ 127.0.0.2 ] } } ]
                    upstreams:
                      redis: { endpoints: [ "%s" ] }
                    plugins: { watch: false }
                    """.formatted(redis.hostPort()));

            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
                InetSocketAddress cache = server.gateway().address("cache");
                assertThat(RedisServer.cli(cache, null, "SET", "from-yaml", "yes")
                                .text())
                        .isEqualTo("OK");
                assertThat(RedisServer.cli(redis.address(), null, "GET", "from-yaml")
                                .text())
                        .isEqualTo("yes");
                assertThat(ping(cache, "127.0.0.2")).isEmpty();
                assertThat(ping(cache, "127.0.0.1")).isEqualTo("+PONG\r\n");
                assertThat(server.gateway().stats().tcpConnectionsRejected()).isEqualTo(1);
            }
        }
    }

    @Test
    void theFlagFileAndTheSwitchTurnMaintenanceOnWithThePageAndRetryAfter() throws Exception {
        int echoPort = freePort();
        Files.writeString(dir.resolve("maintenance.html"), "<h1>Back soon</h1>\n");
        Path flag = dir.resolve("maintenance.on");
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { match: { pathPrefix: / }, upstream: demo }
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                maintenance: { enabled: false, file: maintenance.on, page: maintenance.html, retryAfter: 2m }
                """.formatted(echoPort, echoPort));

        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            String url = "http://127.0.0.1:" + server.gateway().address("web").getPort() + "/shop";
            assertThat(curl("-i", url)).startsWith("HTTP/1.1 200");

            Files.writeString(flag, "");
            String page = awaitCurl(url, "HTTP/1.1 503");
            assertThat(page)
                    .startsWith("HTTP/1.1 503")
                    .containsIgnoringCase("retry-after: 120")
                    .containsIgnoringCase("content-type: text/html; charset=utf-8")
                    .endsWith("<h1>Back soon</h1>\n");
            Files.delete(flag);
            assertThat(awaitCurl(url, "HTTP/1.1 200")).startsWith("HTTP/1.1 200");

            server.maintenance().enable();
            assertThat(curl("-i", url)).startsWith("HTTP/1.1 503");
            server.maintenance().disable();
            assertThat(curl("-i", url)).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void theAdminApiSwitchesMaintenanceOnAndOff() throws Exception {
        int echoPort = freePort();
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { match: { pathPrefix: / }, upstream: demo }
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                admin: { address: "127.0.0.1:0" }
                """.formatted(echoPort, echoPort));
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            String url = "http://127.0.0.1:" + server.gateway().address("web").getPort() + "/shop";
            String admin =
                    "http://127.0.0.1:" + server.admin().orElseThrow().address().getPort() + "/maintenance";
            assertThat(curl(admin)).isEqualTo("maintenance off (switch off, file absent)\n");
            assertThat(curl("-X", "PUT", admin)).isEqualTo("maintenance on (switch on, file absent)\n");
            assertThat(curl("-i", url)).startsWith("HTTP/1.1 503").containsIgnoringCase("retry-after: 300");
            assertThat(curl("-X", "DELETE", admin)).isEqualTo("maintenance off (switch off, file absent)\n");
            assertThat(curl("-i", url)).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void theShippedMaintenancePluginAnswersOnTheGatewaysSwitch() throws Exception {
        int echoPort = freePort();
        Path plugin = Files.createDirectories(dir.resolve("plugins/maintenance"));
        Path example = repositoryRoot().resolve("examples/plugins/maintenance");
        Files.copy(example.resolve("plugin.js"), plugin.resolve("plugin.js"));
        Files.copy(example.resolve("plugin.json"), plugin.resolve("plugin.json"));
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { match: { pathPrefix: / }, upstream: demo }
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                maintenance: { respond: false }
                plugins:
                  watch: false
                  global: [ { name: maintenance, config: { token: s3cret, retryAfter: 60 } } ]
                """.formatted(echoPort, echoPort));

        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            String url = "http://127.0.0.1:" + server.gateway().address("web").getPort() + "/shop";
            assertThat(curl("-i", url)).startsWith("HTTP/1.1 200").doesNotContainIgnoringCase("x-maintenance");

            server.maintenance().enable();
            assertThat(curl("-i", url))
                    .startsWith("HTTP/1.1 503")
                    .containsIgnoringCase("retry-after: 60")
                    .contains("Down for maintenance");
            assertThat(curl("-i", url, "-H", "x-maintenance-token: s3cret"))
                    .startsWith("HTTP/1.1 200")
                    .containsIgnoringCase("x-maintenance: on");
            assertThat(curl(
                            "-i",
                            "http://127.0.0.1:"
                                    + server.gateway().address("web").getPort() + "/healthz"))
                    .startsWith("HTTP/1.1 200");
        }
    }

    private static String ping(InetSocketAddress at, String from) throws IOException {
        try (Socket s = new Socket(at.getAddress(), at.getPort(), InetAddress.getByName(from), 0)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            try {
                return new String(s.getInputStream().readNBytes(7), StandardCharsets.US_ASCII);
            } catch (SocketException reset) {
                return "";
            }
        }
    }

    /** curl until the output starts with {@code prefix} (the flag file is polled each second); bounded. */
    private static String awaitCurl(String url, String prefix) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        String out;
        do {
            out = curl("-i", url);
            if (out.startsWith(prefix)) {
                return out;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        } while (System.nanoTime() < deadline);
        return out;
    }

    private static Path repositoryRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) {
            p = p.getParent();
        }
        assertThat(p).as("a directory with mvnw above the working directory").isNotNull();
        return p;
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
