package dev.torii.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The admin server runs endpoints off its event loop and answers a connection's requests in their order. */
class AdminServerTest {
    @Test
    void aBlockedEndpointLikeAReloadDoesNotStallTheProbesOfOtherConnections() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AdminRoutes routes = AdminRoutes.builder()
                .get("/healthz", r -> AdminResponse.text(200, "ok\n"))
                .route("POST", "/reload", r -> {
                    release.await(30, TimeUnit.SECONDS); // what a slow reload does to its thread
                    return AdminResponse.text(200, "reloaded\n");
                })
                .build();
        try (AdminServer admin = AdminServer.start("127.0.0.1", 0, routes, null)) {
            HttpClient client = HttpClient.newBuilder().build();
            String base = "http://127.0.0.1:" + admin.address().getPort();
            CompletableFuture<HttpResponse<String>> reload = client.sendAsync(
                    HttpRequest.newBuilder(URI.create(base + "/reload"))
                            .POST(HttpRequest.BodyPublishers.noBody())
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            // The probe is answered while the reload still holds its thread (the latch is released only after).
            HttpResponse<String> probe = HttpClient.newBuilder()
                    .build()
                    .send(
                            HttpRequest.newBuilder(URI.create(base + "/healthz"))
                                    .timeout(Duration.ofSeconds(20))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            assertThat(probe.statusCode()).isEqualTo(200);
            assertThat(reload).isNotDone();
            release.countDown();
            assertThat(reload.get(20, TimeUnit.SECONDS).body()).isEqualTo("reloaded\n");
        }
    }

    @Test
    void pipelinedRequestsOnOneConnectionAreAnsweredInTheirOrder() throws Exception {
        // Were the two run side by side, /fast would release /slow at once and be answered first.
        CountDownLatch fastRan = new CountDownLatch(1);
        AdminRoutes routes = AdminRoutes.builder()
                .get("/slow", r -> {
                    fastRan.await(2, TimeUnit.SECONDS);
                    return AdminResponse.text(200, "first\n");
                })
                .get("/fast", r -> {
                    fastRan.countDown();
                    return AdminResponse.text(200, "second\n");
                })
                .build();
        try (AdminServer admin = AdminServer.start("127.0.0.1", 0, routes, null);
                Socket socket = new Socket("127.0.0.1", admin.address().getPort())) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write(
                    ("GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String both = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(both.indexOf("first\n")).isPositive().isLessThan(both.indexOf("second\n"));
        }
    }
}
