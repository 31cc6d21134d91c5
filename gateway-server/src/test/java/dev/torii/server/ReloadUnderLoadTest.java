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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Twenty reloads that change the routes while HTTP/1.1 and HTTP/2 clients keep a bounded load on a route that stays:
 * no request fails, each new route answers right after its reload, and the route it replaced is gone.
 */
class ReloadUnderLoadTest {
    private static final String CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            routes:
              - name: stable
                match: { pathPrefix: /stable }
                upstream: demo
              - name: changing
                match: { pathPrefix: /r%d }
                upstream: demo
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            """;

    @Test
    void twentyReloadsUnderLoadFailNoRequestAndEachNewRouteAnswers(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int echoPort = echo.address().getPort();
            int webPort = freePort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted(webPort, 0, echoPort));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file);
                    HttpClient h1 = client(HttpClient.Version.HTTP_1_1);
                    HttpClient h2 = client(HttpClient.Version.HTTP_2)) {
                URI stable = URI.create("http://127.0.0.1:" + webPort + "/stable");
                var stop = new AtomicBoolean();
                var served = new AtomicLong();
                var failures = new ConcurrentLinkedQueue<String>();
                List<Thread> load = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    HttpClient c = i == 3 ? h2 : h1;
                    load.add(Thread.ofPlatform().start(() -> {
                        // Bounded: at most 20,000 requests per client, and it stops with the reloads.
                        for (int n = 0; n < 20_000 && !stop.get(); n++) {
                            try {
                                int status = c.send(
                                                HttpRequest.newBuilder(stable)
                                                        .timeout(Duration.ofSeconds(10))
                                                        .build(),
                                                HttpResponse.BodyHandlers.discarding())
                                        .statusCode();
                                if (status == 200) {
                                    served.incrementAndGet();
                                } else {
                                    failures.add("status " + status);
                                }
                            } catch (IOException e) {
                                failures.add(e.toString());
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                                return;
                            }
                        }
                    }));
                }
                for (int i = 1; i <= 20; i++) {
                    Files.writeString(file, CONFIG.formatted(webPort, i, echoPort));
                    ConfigReloadResult r = server.reload();
                    assertThat(r.applied()).as("reload %d: %s", i, r.errors()).isTrue();
                    assertThat(get(h1, webPort, "/r" + i))
                            .as("the new route of reload %d", i)
                            .isEqualTo(200);
                    assertThat(get(h1, webPort, "/r" + (i - 1)))
                            .as("the route reload %d replaced", i)
                            .isEqualTo(404);
                }
                stop.set(true);
                for (Thread t : load) {
                    t.join(30_000);
                }
                assertThat(failures).as("failed requests under reloads").isEmpty();
                assertThat(served.get())
                        .as("requests served during the reloads")
                        .isPositive();
                assertThat(server.reloadStats()).containsEntry("ok", 20L).containsEntry("failed", 0L);
            }
        }
    }

    private static HttpClient client(HttpClient.Version version) {
        return HttpClient.newBuilder()
                .version(version)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    private static int get(HttpClient c, int port, String path) throws Exception {
        return c.send(
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
