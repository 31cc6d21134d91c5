package dev.torii.server.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built distribution's {@code bin/torii run} with a configuration that uses every section (HTTP, HTTPS, TCP and
 * DNS listeners, routes, upstreams, limits, forwarding, ioThreads, demo, plugins, dns, admin, maintenance), driven
 * from outside by curl (HTTP/1.1, HTTP/2 over TLS, through the TCP listener, the admin API) and h2load (HTTP/2 load),
 * and the maintenance switch turned on and off through its flag file.
 */
class EndToEndIT {

    @Test
    void everySectionWorksTogetherUnderCurlAndH2load(@TempDir Path dir) throws Exception {
        Dist.Result cert = Dist.run(
                List.of(
                        "openssl",
                        "req",
                        "-x509",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-nodes",
                        "-days",
                        "2",
                        "-subj",
                        "/CN=localhost",
                        "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout",
                        dir.resolve("key.pem").toString(),
                        "-out",
                        dir.resolve("cert.pem").toString()),
                null,
                Duration.ofMinutes(1));
        assertThat(cert.exitCode()).as(cert.output()).isZero();
        int web = Dist.freePort();
        int secure = Dist.freePort();
        int tcp = Dist.freePort();
        int dns = Dist.freePort();
        int admin = Dist.freePort();
        int echo = Dist.freePort();
        Path flag = dir.resolve("maintenance.on");
        Path plugins = Path.of("..", "examples", "plugins").toAbsolutePath().normalize();
        Path config = Files.writeString(
                dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:%1$d" }
                  - name: secure
                    protocol: https
                    address: "127.0.0.1:%2$d"
                    tls: { certificates: [ { cert: cert.pem, key: key.pem } ] }
                  - { name: raw, protocol: tcp, address: "127.0.0.1:%3$d", upstream: demo }
                  - { name: dns, protocol: dns, address: "127.0.0.1:%4$d", rateLimit: { rate: 100 } }
                routes:
                  - name: api
                    match: { pathPrefix: "/" }
                    upstream: demo
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%6$d" ], connectTimeout: 2s, maxConnectionsPerEndpoint: 64 }
                limits: { maxConnections: 1000, headerReadTimeout: 10s, shutdownTimeout: 5s }
                forwarding: { via: true, viaName: e2e, xForwarded: true }
                ioThreads: 2
                demo: { echo: "127.0.0.1:%6$d" }
                plugins:
                  directory: %7$s
                  watch: false
                  global:
                    - { name: dos-guard, config: { rate: 100000, burst: 100000, servedBy: e2e } }
                dns:
                  # Nothing answers there: the DNS listener only has to start.
                  upstreams: [ "127.0.0.1:9" ]
                admin: { address: "127.0.0.1:%5$d" }
                maintenance: { file: %8$s, retryAfter: 30s }
                """.formatted(web, secure, tcp, dns, admin, echo, plugins, flag));
        Path log = dir.resolve("torii.log");
        HttpClient client = HttpClient.newHttpClient();
        Process torii = null;
        // A plugin module's evaluation has a 500 ms deadline (ScriptRuntime), which a cold engine on a loaded machine
        // can miss at start-up; that refusal, and only it, is retried (three starts at most).
        for (int attempt = 1; torii == null; attempt++) {
            Process p = Dist.start(
                    List.of(Dist.directory().resolve("bin/torii").toString(), "run", "--config", config.toString()),
                    null,
                    log);
            try {
                Dist.awaitAnswer(client, URI.create("http://127.0.0.1:" + admin + "/readyz"), p, log);
                torii = p;
            } catch (AssertionError e) {
                Dist.stop(p);
                if (attempt == 3 || !readLog(log).contains("module evaluation ran past its deadline")) {
                    throw e;
                }
            }
        }
        try (client) {

            // The first requests also wait for the plugin's code to warm up (a busy machine runs it slowly at first).
            assertThat(awaitStatus(client, "http://127.0.0.1:" + web + "/warm-up", 200))
                    .as(() -> readLog(log))
                    .isTrue();
            // HTTP/1.1 through the plugin and the forwarding settings to the echo service.
            Dist.Result h1 = curl("-si", "http://127.0.0.1:" + web + "/hello");
            assertThat(h1.output())
                    .as(() -> readLog(log))
                    .startsWith("HTTP/1.1 200")
                    .contains("x-served-by: e2e")
                    .contains("GET /hello HTTP/1.1")
                    .contains("via: 1.1 e2e")
                    .contains("x-forwarded-for: 127.0.0.1");
            // HTTP/2 over TLS with the file's certificate.
            Dist.Result h2 = curl(
                    "-si",
                    "--http2",
                    "--cacert",
                    dir.resolve("cert.pem").toString(),
                    "https://localhost:" + secure + "/secure");
            assertThat(h2.output())
                    .startsWith("HTTP/2 200")
                    .contains("GET /secure")
                    .contains("x-forwarded-proto: https");
            // Bytes through the TCP listener reach the echo service unchanged.
            assertThat(curl("-si", "http://127.0.0.1:" + tcp + "/raw").output())
                    .startsWith("HTTP/1.1 200")
                    .contains("Host: 127.0.0.1:" + tcp)
                    .doesNotContain("via: 1.1 e2e");
            // The admin API.
            assertThat(curl("-s", "http://127.0.0.1:" + admin + "/healthz").output())
                    .isEqualTo("ok\n");
            assertThat(curl("-s", "http://127.0.0.1:" + admin + "/metrics").output())
                    .contains("# TYPE");
            // The TCP connection above is counted once it has closed (a name clash with the open-connections gauge
            // once kept this series out of the scrape).
            Instant until = Instant.now().plusSeconds(20);
            String metrics = "";
            while (Instant.now().isBefore(until)
                    && !metrics.contains("torii_tcp_connections_finished_total{listener=\"raw\",outcome=\"closed\"}")) {
                metrics = curl("-s", "http://127.0.0.1:" + admin + "/metrics").output();
                TimeUnit.MILLISECONDS.sleep(100);
            }
            assertThat(metrics)
                    .contains("torii_tcp_connections_finished_total{listener=\"raw\",outcome=\"closed\"} 1.0")
                    .contains("# TYPE torii_tcp_connections gauge");

            // HTTP/2 load: every request answered 200.
            Dist.Result load = Dist.run(
                    List.of("h2load", "-n", "400", "-c", "4", "-m", "8", "https://127.0.0.1:" + secure + "/load"),
                    null,
                    Duration.ofMinutes(2));
            assertThat(load.exitCode()).as(load.output()).isZero();
            assertThat(load.output())
                    .contains("400 total")
                    .contains("400 succeeded")
                    .contains("400 2xx");

            // The maintenance flag file: 503 with Retry-After while it exists, 200 again once it is gone.
            Files.writeString(flag, "");
            assertThat(awaitStatus(client, "http://127.0.0.1:" + web + "/", 503))
                    .isTrue();
            assertThat(curl("-si", "http://127.0.0.1:" + web + "/").output()).contains("retry-after: 30");
            Files.delete(flag);
            assertThat(awaitStatus(client, "http://127.0.0.1:" + web + "/", 200))
                    .isTrue();
        } finally {
            Dist.stop(torii);
        }
        String output = Files.readString(log);
        assertThat(output)
                .contains("optimizing JIT on")
                .doesNotContain(" ERROR ")
                .doesNotContain("already an existing meter");
    }

    private static String readLog(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    private static Dist.Result curl(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("curl", "--max-time", "20"));
        command.addAll(List.of(args));
        Dist.Result r = Dist.run(command, null, Duration.ofMinutes(1));
        assertThat(r.exitCode())
                .as(String.join(" ", command) + "\n" + r.output())
                .isZero();
        return r;
    }

    /** Whether {@code url} answers {@code status} within 20 s (the flag file is polled, not watched). */
    private static boolean awaitStatus(HttpClient client, String url, int status) throws Exception {
        Instant deadline = Instant.now().plusSeconds(20);
        while (Instant.now().isBefore(deadline)) {
            HttpResponse<Void> r = client.send(
                    HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding());
            if (r.statusCode() == status) {
                return true;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        return false;
    }
}
