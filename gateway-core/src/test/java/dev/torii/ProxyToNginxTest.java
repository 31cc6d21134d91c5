package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.NginxBackend;
import dev.torii.testing.RawClient;
import dev.torii.testing.RawClient.RawResponse;
import dev.torii.testing.TestUpstream;
import dev.torii.testing.TestUpstream.RecordedRequest;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * End-to-end: a real client socket, a real gateway, and a real nginx (or a {@link TestUpstream} where the test must
 * see exactly what reached the backend) on loopback.
 */
class ProxyToNginxTest {
    private static final String SIXTEEN_K = "0123456789abcdef".repeat(NginxBackend.SIXTEEN_K / 16);

    private static NginxBackend nginx;

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
    void smallBodyIsProxiedFromNginx() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse r = client.write(get("/", "example.test")).readResponse();

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyText()).isEqualTo("ok\n");
        }
    }

    @Test
    void sixteenKilobyteBodyArrivesIntact() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse r = client.write(get("/16k", "example.test")).readResponse();

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).hasSize(NginxBackend.SIXTEEN_K);
            assertThat(r.bodyText()).isEqualTo(SIXTEEN_K);
        }
    }

    @Test
    void keepAliveRequestsReuseOneUpstreamConnection() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            for (int i = 0; i < 50; i++) {
                RawResponse r = client.write(get(i % 2 == 0 ? "/" : "/16k", "example.test"))
                        .readResponse();
                assertThat(r.status()).as("request %d", i + 1).isEqualTo(200);
                assertThat(r.body()).hasSize(i % 2 == 0 ? 3 : NginxBackend.SIXTEEN_K);
            }

            assertThat(gateway.stats().upstreamConnectionsOpened())
                    .as("upstream connections opened for 50 sequential keep-alive requests")
                    .isBetween(1L, 2L);
            assertThat(client.write(get("/", "example.test")).readResponse().status())
                    .as("the client connection is still open")
                    .isEqualTo(200);
        }
    }

    @Test
    void headResponseHasNoBodyAndTheConnectionStaysUsable() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse head = client.write("HEAD /16k HTTP/1.1\r\nHost: example.test\r\n\r\n")
                    .readResponse(true);
            RawResponse next = client.write(get("/", "example.test")).readResponse();

            assertThat(head.status()).isEqualTo(200);
            assertThat(head.header("content-length")).isEqualTo(String.valueOf(NginxBackend.SIXTEEN_K));
            assertThat(head.body()).isEmpty();
            assertThat(next.status()).isEqualTo(200);
            assertThat(next.bodyText())
                    .as("a HEAD response followed by body bytes would show up here")
                    .isEqualTo("ok\n");
        }
    }

    @Test
    void noContentAndNotModifiedResponsesHaveNoBody() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            client.write(
                    get("/status/204", "example.test") + get("/status/304", "example.test") + get("/", "example.test"));

            RawResponse noContent = client.readResponse();
            RawResponse notModified = client.readResponse();
            RawResponse ok = client.readResponse();

            assertThat(noContent.status()).isEqualTo(204);
            assertThat(noContent.header("transfer-encoding")).isNull();
            assertThat(notModified.status()).isEqualTo(304);
            assertThat(notModified.header("transfer-encoding")).isNull();
            assertThat(ok.status()).isEqualTo(200);
            assertThat(ok.bodyText()).isEqualTo("ok\n");
        }
    }

    @Test
    void hopByHopHeadersNeverReachTheUpstream() {
        try (var upstream = TestUpstream.start();
                var gateway = gateway(upstream.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse r = client.write("GET /hop HTTP/1.1\r\nHost: example.test\r\n"
                            + "Connection: x-custom, keep-alive\r\n"
                            + "X-Custom: 1\r\n"
                            + "Keep-Alive: timeout=5\r\n"
                            + "TE: trailers\r\n"
                            + "Proxy-Connection: keep-alive\r\n"
                            + "Upgrade: example/1\r\n"
                            + "X-End-To-End: kept\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            RecordedRequest got = upstream.awaitRequest();
            assertThat(got.headerNames())
                    .doesNotContain("connection", "x-custom", "keep-alive", "te", "proxy-connection", "upgrade");
            assertThat(got.header("x-end-to-end")).isEqualTo("kept");
        }
    }

    @Test
    void viaAndForwardedHeadersAreAddedAndForgedOnesReplaced() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse r = client.write("GET /echo-headers HTTP/1.1\r\nHost: shop.example.test\r\n"
                            + "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyText())
                    .startsWith("host=shop.example.test xff=127.0.0.1 via=1.1 torii proto=http xfh=shop.example.test ");
        }
    }

    @Test
    void aTrustedProxysForwardedForChainIsKeptAndAppended() {
        var trusting = new Forwarding(true, "torii", true, List.of("127.0.0.1/32"));
        try (var gateway = gateway(nginx.endpoint(), trusting);
                var client = client(gateway)) {
            RawResponse r = client.write("GET /echo-headers HTTP/1.1\r\nHost: shop.example.test\r\n"
                            + "X-Forwarded-For: 203.0.113.7, 198.51.100.2\r\n"
                            + "X-Forwarded-Proto: https\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyText())
                    .startsWith("host=shop.example.test xff=203.0.113.7, 198.51.100.2, 127.0.0.1 via=1.1 torii"
                            + " proto=https ");
        }
    }

    @Test
    void viaIsAppendedToAnExistingVia() {
        try (var upstream = TestUpstream.start();
                var gateway = gateway(upstream.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            client.write("GET / HTTP/1.1\r\nHost: example.test\r\nVia: 1.0 edge\r\n\r\n")
                    .readResponse();

            assertThat(String.join(", ", upstream.awaitRequest().headers("via")))
                    .isEqualTo("1.0 edge, 1.1 torii");
        }
    }

    @Test
    void hostIsPreservedByDefaultAndRewrittenPerRoute() {
        var table = RoutingTable.builder()
                .upstream(Upstream.builder("nginx").endpoint(nginx.endpoint()).build())
                .route(Route.builder("api")
                        .host("api.example.test")
                        .upstream("nginx")
                        .rewriteHost("backend.internal")
                        .build())
                .route(Route.builder("rest").upstream("nginx").build())
                .build();
        try (var gateway = gateway(table, Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse rewritten =
                    client.write(get("/echo-headers", "api.example.test")).readResponse();
            RawResponse preserved =
                    client.write(get("/echo-headers", "www.example.test:8080")).readResponse();

            assertThat(rewritten.bodyText()).startsWith("host=backend.internal ");
            assertThat(preserved.bodyText()).startsWith("host=www.example.test:8080 ");
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            client.write(get("/16k", "example.test") + get("/", "example.test") + get("/echo-headers", "third.test"));

            RawResponse first = client.readResponse();
            RawResponse second = client.readResponse();
            RawResponse third = client.readResponse();

            assertThat(first.bodyText()).isEqualTo(SIXTEEN_K);
            assertThat(second.bodyText()).isEqualTo("ok\n");
            assertThat(third.bodyText()).startsWith("host=third.test ");
        }
    }

    @Test
    void chunkedRequestBodyWithTrailersArrivesIntact() {
        try (var upstream = TestUpstream.start();
                var gateway = gateway(upstream.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse r = client.write("POST /upload HTTP/1.1\r\nHost: example.test\r\n"
                            + "Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                            + "5\r\nhello\r\n"
                            + "7;ext=1\r\n, world\r\n"
                            + "0\r\nX-Checksum: abc123\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            RecordedRequest got = upstream.awaitRequest();
            assertThat(got.bodyText()).isEqualTo("hello, world");
            assertThat(got.trailer("x-checksum")).isEqualTo("abc123");
        }
    }

    @Test
    void chunkedResponseWithTrailersReachesTheClientIntact() {
        try (var upstream = TestUpstream.start((req, res) -> res.respondChunked(
                        200,
                        List.of(Map.entry("Content-Type", "text/plain"), Map.entry("Trailer", "X-Digest")),
                        List.of(bytes("first;"), bytes("second;"), bytes("third")),
                        List.of(Map.entry("X-Digest", "d1g3st"))));
                var gateway = gateway(upstream.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse r = client.write("GET /stream HTTP/1.1\r\nHost: example.test\r\nTE: trailers\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("transfer-encoding")).isEqualToIgnoringCase("chunked");
            assertThat(r.bodyText()).isEqualTo("first;second;third");
            assertThat(r.trailer("x-digest")).isEqualTo("d1g3st");
        }
    }

    @Test
    void nginxChunkedResponseTrailersReachTheClient() {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse r = client.write("GET /chunked HTTP/1.1\r\nHost: example.test\r\nTE: trailers\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).hasSize(NginxBackend.CHUNKED_BODY_LENGTH);
            assertThat(r.bodyText()).doesNotContain("a").startsWith("bbbbbbbb\n");
            assertThat(r.trailer("x-trailer")).isEqualTo("t-value");
        }
    }

    @Test
    void expectContinueGetsAnInterimResponseThenTheFinalOne() {
        try (var upstream = TestUpstream.start();
                var gateway = gateway(upstream.endpoint(), Forwarding.defaults());
                var client = client(gateway)) {
            RawResponse interim = client.write("PUT /big HTTP/1.1\r\nHost: example.test\r\n"
                            + "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
                    .readResponse();
            RawResponse last = client.write("hello").readResponse();

            assertThat(interim.status()).isEqualTo(100);
            assertThat(last.status()).isEqualTo(200);
            assertThat(upstream.awaitRequest().bodyText()).isEqualTo("hello");
        }
    }

    @Test
    void curlFetchesThroughTheGateway() throws IOException, InterruptedException {
        try (var gateway = gateway(nginx.endpoint(), Forwarding.defaults())) {
            InetSocketAddress a = gateway.address("web");
            Process curl = new ProcessBuilder(
                            "curl", "-s", "-v", "--max-time", "10", "http://127.0.0.1:" + a.getPort() + "/16k")
                    .start();
            byte[] out = curl.getInputStream().readAllBytes();
            String err = new String(curl.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(curl.waitFor(15, TimeUnit.SECONDS)).isTrue();

            assertThat(curl.exitValue())
                    .as("curl's exit code; its log:\n%s", err)
                    .isZero();
            assertThat(err).contains("< HTTP/1.1 200");
            assertThat(new String(out, StandardCharsets.UTF_8)).isEqualTo(SIXTEEN_K);
        }
    }

    private static String get(String path, String host) {
        return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static RawClient client(Gateway gateway) {
        return new RawClient(gateway.address("web"), Duration.ofSeconds(5));
    }

    private static Gateway gateway(String endpoint, Forwarding forwarding) {
        return gateway(
                RoutingTable.builder()
                        .upstream(Upstream.builder("app").endpoint(endpoint).build())
                        .route(Route.builder("all").upstream("app").build())
                        .build(),
                forwarding);
    }

    private static Gateway gateway(RoutingTable table, Forwarding forwarding) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(1)
                .routingTable(table)
                .forwarding(forwarding)
                .limits(Limits.builder().shutdownTimeout(Duration.ofSeconds(2)).build())
                .build()
                .start();
    }
}
