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
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code reload: { watch: true }}: an edit of the file is applied by itself, and a broken edit keeps the old one. */
class ConfigWatchTest {
    private static final String CONFIG = """
            reload: { watch: true, debounce: 200ms }
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            routes:
              - name: r
                match: { pathPrefix: %s }
                upstream: demo
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            """;

    @Test
    void anEditedFileIsReloadedByItselfAndABrokenEditKeepsTheRunningConfiguration(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0);
                HttpClient client = HttpClient.newHttpClient()) {
            int echoPort = echo.address().getPort();
            int webPort = freePort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted(webPort, "/a", echoPort));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(get(client, webPort, "/a")).isEqualTo(200);
                assertThat(server.reloadStats()).containsEntry("ok", 0L);

                // As an editor or a ConfigMap update does it: a new file renamed over the old one.
                Path next = dir.resolve("torii.yaml.new");
                Files.writeString(next, CONFIG.formatted(webPort, "/b", echoPort));
                Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                awaitStatus(client, webPort, "/b", 200);
                assertThat(get(client, webPort, "/a")).isEqualTo(404);

                Files.writeString(file, "routes: [ {\n");
                for (int i = 0; i < 100 && !server.reloadStats().get("failed").equals(1L); i++) {
                    Thread.sleep(100);
                }
                assertThat(server.reloadStats()).containsEntry("failed", 1L).containsEntry("lastResult", "failed");
                assertThat(get(client, webPort, "/b"))
                        .as("the running configuration stays")
                        .isEqualTo(200);
            }
        }
    }

    private static void awaitStatus(HttpClient client, int port, String path, int status) throws Exception {
        int last = -1;
        for (int i = 0; i < 100; i++) {
            last = get(client, port, path);
            if (last == status) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("GET " + path + " never answered " + status + " (last " + last + ")");
    }

    private static int get(HttpClient client, int port, String path) throws Exception {
        return client.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
