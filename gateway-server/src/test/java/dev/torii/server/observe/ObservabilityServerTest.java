package dev.torii.server.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.server.ToriiServer;
import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.NginxBackend;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The standalone server seen from outside: Prometheus series after real traffic to nginx, the JSON access log, W3C
 * trace context continued from the client to nginx (read in nginx's own log) with the spans decoded at an OTLP
 * receiver, the admin API's JSON views, its token, and the access log reopened on SIGUSR1.
 */
class ObservabilityServerTest {
    private static final String CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
    private static final String CLIENT_SPAN = "b7ad6b7169203331";

    private static NginxBackend nginx;
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @TempDir
    Path dir;

    @BeforeAll
    static void startNginx() {
        nginx = NginxBackend.start();
    }

    @AfterAll
    static void stopNginx() {
        if (nginx != null) {
            nginx.close();
        }
    }

    @Test
    void oneExchangeRecordFeedsMetricsAccessLogAndTracesContinuedUpToNginx() throws Exception {
        try (OtlpReceiver otlp = new OtlpReceiver();
                ToriiServer server = ToriiServer.start(ConfigLoader.load(config(otlp.endpoint(), "")))) {
            String web = "http://127.0.0.1:" + server.gateway().address("web").getPort();
            HttpResponse<String> ok = http.send(
                    HttpRequest.newBuilder(URI.create(web + "/?q=1"))
                            .header("traceparent", "00-" + CLIENT_TRACE + "-" + CLIENT_SPAN + "-01")
                            .header("User-Agent", "obs-test")
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(get(web + "/status/404").statusCode()).isEqualTo(404);
            assertThat(get(web + "/dead/x").statusCode()).isEqualTo(502);

            // Metrics: by route, upstream, protocol, status class and error kind; histograms; JVM; gateway stats.
            String admin = adminUrl(server);
            String metrics = get(admin + "/metrics").body();
            assertThat(metrics)
                    .contains("torii_requests_total{error=\"none\",protocol=\"1.1\",route=\"api\",status=\"2xx\","
                            + "upstream=\"nginx\"} 1")
                    .contains("torii_requests_total{error=\"none\",protocol=\"1.1\",route=\"api\",status=\"4xx\","
                            + "upstream=\"nginx\"} 1")
                    .contains("torii_requests_total{error=\"CONNECT_FAILED\",protocol=\"1.1\",route=\"dead\","
                            + "status=\"5xx\",upstream=\"nowhere\"} 1")
                    .contains("torii_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 2")
                    .contains("torii_upstream_response_duration_seconds_count{upstream=\"nginx\"} 2")
                    .contains("torii_gateway_exchanges_total 3")
                    .contains("torii_gateway_upstream_connections_opened_total")
                    .contains("torii_maintenance 0")
                    .contains("torii_access_log_written_total")
                    .contains("jvm_memory_used_bytes")
                    .contains("jvm_threads_live_threads")
                    .doesNotContain("/status/404") // never a raw path as a label
                    .doesNotContain("torii_dns_");

            // Access log: one JSON line per exchange, the client's trace id on the first.
            Path accessLog = dir.resolve("access.log");
            await(() -> lines(accessLog).size() == 3, "3 access-log lines in " + accessLog);
            List<String> lines = lines(accessLog);
            assertThat(lines.get(0))
                    .startsWith("{\"time\":\"")
                    .contains("\"client\":\"127.0.0.1\"", "\"method\":\"GET\"", "\"path\":\"/?q=1\"")
                    .contains("\"protocol\":\"HTTP/1.1\"", "\"status\":200", "\"bytesOut\":3", "\"route\":\"api\"")
                    .contains("\"upstream\":\"nginx\"", "\"endpoint\":\"" + nginx.endpoint() + "\"")
                    .contains("\"durationMs\":", "\"upstreamConnectMs\":", "\"upstreamFirstByteMs\":")
                    .contains("\"traceId\":\"" + CLIENT_TRACE + "\"", "\"userAgent\":\"obs-test\"");
            assertThat(lines.get(2)).contains("\"status\":502", "\"error\":\"CONNECT_FAILED\"", "\"route\":\"dead\"");

            // nginx got the trace continued: same trace id, a new parent (Torii's client span), sampled.
            await(() -> nginx.accessLog().stream().anyMatch(l -> l.contains("/?q=1")), "nginx logged /?q=1");
            String nginxLine = nginx.accessLog().stream()
                    .filter(l -> l.contains("/?q=1"))
                    .findFirst()
                    .orElseThrow();
            Matcher tp =
                    Pattern.compile("tp=00-([0-9a-f]{32})-([0-9a-f]{16})-01").matcher(nginxLine);
            assertThat(tp.find())
                    .as("traceparent in nginx's log: %s", nginxLine)
                    .isTrue();
            assertThat(tp.group(1)).isEqualTo(CLIENT_TRACE);
            String upstreamParent = tp.group(2);
            assertThat(upstreamParent).isNotEqualTo(CLIENT_SPAN);

            // The spans, decoded from what the OTLP exporter sent.
            await(
                    () -> otlp.spans().stream().anyMatch(s -> s.traceId().equals(CLIENT_TRACE) && s.kind() == 3),
                    "the client span at the OTLP receiver");
            List<OtlpReceiver.Span> trace = otlp.spans().stream()
                    .filter(s -> s.traceId().equals(CLIENT_TRACE))
                    .toList();
            OtlpReceiver.Span serverSpan =
                    trace.stream().filter(s -> s.kind() == 2).findFirst().orElseThrow();
            OtlpReceiver.Span clientSpan =
                    trace.stream().filter(s -> s.kind() == 3).findFirst().orElseThrow();
            assertThat(serverSpan.parentSpanId()).isEqualTo(CLIENT_SPAN);
            assertThat(serverSpan.name()).isEqualTo("GET api");
            assertThat(serverSpan.serviceName()).isEqualTo("torii-test");
            assertThat(clientSpan.parentSpanId()).isEqualTo(serverSpan.spanId());
            assertThat(clientSpan.spanId()).isEqualTo(upstreamParent);
            assertThat(otlp.contentTypes()).allMatch(t -> t.startsWith("application/x-protobuf"));
        }
    }

    @Test
    void theAccessLogIsReopenedOnSigusr1AfterLogrotateMovedIt() throws Exception {
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(config(null, "")))) {
            String web = "http://127.0.0.1:" + server.gateway().address("web").getPort();
            Path accessLog = dir.resolve("access.log");
            assertThat(get(web + "/first").statusCode()).isEqualTo(404);
            await(() -> lines(accessLog).size() == 1, "the first line");
            Path rotated = Files.move(accessLog, dir.resolve("access.log.1"));

            Process kill = new ProcessBuilder(
                            "kill",
                            "-USR1",
                            String.valueOf(ProcessHandle.current().pid()))
                    .inheritIO()
                    .start();
            assertThat(kill.waitFor()).isZero();
            await(() -> Files.exists(accessLog), "access.log reopened");
            assertThat(get(web + "/second").statusCode()).isEqualTo(404);
            await(() -> lines(accessLog).size() == 1, "the second line in the new file");
            assertThat(lines(accessLog).getFirst()).contains("\"path\":\"/second\"");
            assertThat(lines(rotated)).hasSize(1).allMatch(l -> l.contains("\"path\":\"/first\""));
        }
    }

    @Test
    void theAdminApiServesJsonViewsListsHeadInAllowAndRedactsTheToken() throws Exception {
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(config(null, "token: s3cret-token")))) {
            String admin = adminUrl(server);
            assertThat(get(admin + "/healthz").statusCode()).isEqualTo(200); // probes need no token
            HttpResponse<String> refused = get(admin + "/routes");
            assertThat(refused.statusCode()).isEqualTo(401);
            assertThat(refused.headers().firstValue("www-authenticate")).hasValue("Bearer");
            assertThat(get(admin + "/routes", "Bearer wrong").statusCode()).isEqualTo(401);

            String bearer = "Bearer s3cret-token";
            HttpResponse<String> routes = get(admin + "/routes", bearer);
            assertThat(routes.statusCode()).isEqualTo(200);
            assertThat(routes.headers().firstValue("content-type")).hasValue("application/json");
            assertThat(routes.body())
                    .contains("\"name\":\"api\"", "\"upstream\":\"nginx\"", "\"pathPrefix\":\"/dead\"");
            assertThat(get(admin + "/upstreams", bearer).body())
                    .contains("\"name\":\"nginx\"", "\"endpoints\":[\"" + nginx.endpoint() + "\"]")
                    .as("each endpoint's health")
                    .contains("\"health\":[{\"endpoint\":\"" + nginx.endpoint()
                            + "\",\"available\":true,\"healthy\":true," + "\"ejected\":false");
            String config = get(admin + "/config", bearer).body();
            assertThat(config).contains("\"token\":\"[redacted]\"").doesNotContain("s3cret");
            assertThat(get(admin + "/plugins", bearer).body()).isEqualTo("[]");
            assertThat(get(admin + "/dns/cache", bearer).statusCode()).isEqualTo(404);
            assertThat(get(admin + "/status.json", bearer).body()).contains("\"points\":[", "\"maintenance\":false");

            HttpResponse<String> put = http.send(
                    HttpRequest.newBuilder(URI.create(admin + "/routes"))
                            .header("Authorization", bearer)
                            .PUT(HttpRequest.BodyPublishers.noBody())
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(put.statusCode()).isEqualTo(405);
            assertThat(put.headers().firstValue("allow")).hasValue("GET, HEAD");
        }
    }

    @Test
    void anAdminApiOffLoopbackWithoutATokenRefusesToStart() throws Exception {
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { name: api, match: { pathPrefix: / }, upstream: nginx }
                upstreams:
                  nginx: { endpoints: [ "%s" ] }
                admin: { address: "0.0.0.0:0" }
                """.formatted(nginx.endpoint()));
        assertThatThrownBy(() -> ToriiServer.start(ConfigLoader.load(file)))
                .hasMessageContaining("admin.address: '0.0.0.0:0' is not a loopback address and no token is set");
    }

    private Path config(String otlpEndpoint, String adminExtra) throws IOException {
        String tracing = otlpEndpoint == null
                ? ""
                : "tracing: { endpoint: \"" + otlpEndpoint + "\", samplingRatio: 1, serviceName: torii-test }\n";
        return Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { name: dead, match: { pathPrefix: /dead }, upstream: nowhere }
                  - { name: api, match: { pathPrefix: / }, upstream: nginx }
                upstreams:
                  nginx: { endpoints: [ "%s" ] }
                  nowhere: { endpoints: [ "127.0.0.1:%d" ], connectTimeout: 2s }
                admin: { address: "127.0.0.1:0" %s }
                accessLog: { path: access.log }
                %s""".formatted(
                        nginx.endpoint(), closedPort(), adminExtra.isEmpty() ? "" : ", " + adminExtra, tracing));
    }

    private static String adminUrl(ToriiServer server) {
        return "http://127.0.0.1:" + server.admin().orElseThrow().address().getPort();
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String url, String authorization) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create(url))
                        .header("Authorization", authorization)
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static List<String> lines(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file) : List.of();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Waits up to 15 s for {@code condition} (work done on other threads: the log writer, the span exporter). */
    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
