package dev.torii.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.ErrorResponder;
import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Rate limits in a real gateway over loopback, clients bound to distinct addresses (127.0.0.2, 127.0.0.3, ...): the
 * JDK's HTTP client for HTTP/1.1 and curl with prior knowledge for h2c.
 */
class RateLimitGatewayTest {
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<HttpClient> clients = new ArrayList<>();
    private final TestUpstream upstream = closeLater(TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE));

    @AfterEach
    void closeAll() throws Exception {
        clients.forEach(HttpClient::close);
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    private Gateway gateway(Consumer<Gateway.Builder> global, Consumer<Route.Builder> route) {
        Route.Builder r = Route.builder("api").upstream("app");
        route.accept(r);
        var b = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(r.build())
                        .build())
                .ioThreads(1);
        global.accept(b);
        return closeLater(b.build().start());
    }

    private HttpClient client(String from) throws IOException {
        var c = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .localAddress(InetAddress.getByName(from))
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        clients.add(c);
        return c;
    }

    private static HttpResponse<String> get(HttpClient c, Gateway g, Map<String, String> headers) throws Exception {
        var rb = HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + g.address("web").getPort() + "/x"))
                .timeout(Duration.ofSeconds(20));
        headers.forEach(rb::header);
        return c.send(rb.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aFloodFromOneClientIsLimitedWhileAnotherKeepsGetting200() throws Exception {
        RateLimiter limiter = RateLimiter.local(RateLimitPolicy.builder("per-ip")
                .limit(5, Duration.ofMinutes(1))
                .build());
        Gateway g = gateway(b -> b.hook(limiter.hook(ErrorResponder.plainText())), r -> {});
        HttpClient flooder = client("127.0.0.2");
        HttpClient other = client("127.0.0.3");

        int flooderOk = 0;
        int otherOk = 0;
        HttpResponse<String> refused = null;
        for (int i = 0; i < 40; i++) {
            HttpResponse<String> f = get(flooder, g, Map.of());
            if (f.statusCode() == 200) {
                flooderOk++;
            } else {
                assertThat(f.statusCode()).isEqualTo(429);
                refused = f;
            }
            if (i % 10 == 0) {
                assertThat(get(other, g, Map.of()).statusCode())
                        .as("the other client, round %d", i)
                        .isEqualTo(200);
                otherOk++;
            }
        }
        assertThat(flooderOk).isEqualTo(5);
        assertThat(otherOk).isEqualTo(4);
        assertThat(refused).isNotNull();
        assertThat(refused.body()).isEqualTo("429 RATE_LIMITED\n");
        assertThat(refused.headers().firstValue("retry-after"))
                .hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isBetween(1L, 12L));
        assertThat(refused.headers().firstValue("ratelimit-policy")).hasValue("\"per-ip\";q=5;w=60");
        assertThat(refused.headers().firstValue("ratelimit"))
                .hasValueSatisfying(v -> assertThat(v).matches("\"per-ip\";r=0;t=([1-9]|1[0-2])"));
        assertThat(limiter.stats())
                .extracting(RateLimitStats::allowed, RateLimitStats::limited, RateLimitStats::keys)
                .containsExactly(9L, 35L, 2L);
        assertThat(upstream.requests()).hasSize(9);
    }

    @Test
    void aRouteLimitKeyedByHeaderCountsEachKeyAndLetsRequestsWithoutItThrough() throws Exception {
        RateLimiter limiter = RateLimiter.local(RateLimitPolicy.builder("per-key")
                .key(RateLimitKey.header("x-api-key"))
                .limit(2, Duration.ofMinutes(1))
                .build());
        Gateway g = gateway(b -> {}, r -> r.hook(limiter.hook(ErrorResponder.plainText())));
        HttpClient c = client("127.0.0.4");
        List<Integer> a = new ArrayList<>();
        List<Integer> b = new ArrayList<>();
        List<Integer> none = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            a.add(get(c, g, Map.of("x-api-key", "a")).statusCode());
            b.add(get(c, g, Map.of("x-api-key", "b")).statusCode());
            none.add(get(c, g, Map.of()).statusCode());
        }
        assertThat(a).containsExactly(200, 200, 429, 429);
        assertThat(b).containsExactly(200, 200, 429, 429);
        assertThat(none).containsExactly(200, 200, 200, 200);
    }

    @Test
    void theRouteKeySharesOneBucketAmongAllClientsOfTheRoute() throws Exception {
        RateLimiter limiter = RateLimiter.local(RateLimitPolicy.builder("route")
                .key(RateLimitKey.route())
                .limit(3, Duration.ofMinutes(1))
                .build());
        Gateway g = gateway(b -> {}, r -> r.hook(limiter.hook(ErrorResponder.plainText())));
        List<Integer> statuses = new ArrayList<>();
        for (String from : List.of("127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8")) {
            statuses.add(get(client(from), g, Map.of()).statusCode());
        }
        assertThat(statuses).containsExactly(200, 200, 200, 429);
        assertThat(limiter.stats().keys()).isEqualTo(1);
    }

    @Test
    void aShadowLimitLetsTheFloodThroughAndCountsIt() throws Exception {
        RateLimiter limiter = RateLimiter.local(RateLimitPolicy.builder("try")
                .limit(2, Duration.ofMinutes(1))
                .shadow(true)
                .build());
        Gateway g = gateway(b -> b.hook(limiter.hook(ErrorResponder.plainText())), r -> {});
        HttpClient c = client("127.0.0.9");
        for (int i = 0; i < 6; i++) {
            assertThat(get(c, g, Map.of()).statusCode()).isEqualTo(200);
        }
        assertThat(limiter.stats())
                .extracting(RateLimitStats::allowed, RateLimitStats::shadowLimited, RateLimitStats::limited)
                .containsExactly(2L, 4L, 0L);
    }

    @Test
    void overH2cTheFloodIsLimitedWithTheSameHeadersWhileAnotherClientIsServed() throws Exception {
        RateLimiter limiter = RateLimiter.local(RateLimitPolicy.builder("per-ip")
                .limit(3, Duration.ofMinutes(1))
                .build());
        Gateway g = gateway(b -> b.hook(limiter.hook(ErrorResponder.plainText())), r -> {});
        String url = "http://127.0.0.1:" + g.address("web").getPort() + "/x";
        List<Integer> statuses = new ArrayList<>();
        Curl last = null;
        for (int i = 0; i < 5; i++) {
            last = curl("127.0.0.10", url);
            assertThat(last.version()).isEqualTo("HTTP/2");
            statuses.add(last.status());
        }
        assertThat(statuses).containsExactly(200, 200, 200, 429, 429);
        assertThat(last.headers())
                .containsEntry("ratelimit-policy", "\"per-ip\";q=3;w=60")
                .containsKey("retry-after")
                .containsKey("ratelimit");
        assertThat(last.headers().get("ratelimit")).startsWith("\"per-ip\";r=0;t=");
        assertThat(curl("127.0.0.11", url).status()).isEqualTo(200);
    }

    @Test
    void onATcpListenerConnectionsOverTheLimitAreClosedBeforeTheBackendSeesThem() throws Exception {
        RateLimiter limiter = RateLimiter.local(
                RateLimitPolicy.builder("tcp").limit(2, Duration.ofMinutes(1)).build());
        Gateway g = closeLater(Gateway.builder()
                .listener(dev.torii.tcp.TcpListener.builder("raw", "127.0.0.1:0", "app")
                        .hook(limiter.connectionHook())
                        .build())
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .build())
                .ioThreads(1)
                .build()
                .start());
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            try (var c = new dev.torii.testing.RawClient(g.address("raw"), Duration.ofSeconds(10))) {
                c.write("GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                byte[] all = c.readUntilClosed();
                String text = new String(all, StandardCharsets.US_ASCII);
                answers.add(text.isEmpty() ? "closed" : text.substring(0, text.indexOf('\r')));
            }
        }
        assertThat(answers).containsExactly("HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "closed");
        assertThat(limiter.stats().limited()).isEqualTo(1);
        assertThat(upstream.connectionsAccepted()).isEqualTo(2);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RateLimiter.local(RateLimitPolicy.builder("h")
                                .key(RateLimitKey.header("x"))
                                .limit(1, Duration.ofSeconds(1))
                                .build())
                        .connectionHook())
                .hasMessage("policy 'h' key: header:x (expected: clientIp for TCP connections)");
    }

    private record Curl(String version, int status, Map<String, String> headers) {}

    /** One h2c request with prior knowledge from {@code from}; the response head. */
    private static Curl curl(String from, String url) throws Exception {
        Process p = new ProcessBuilder(
                        "curl",
                        "-sS",
                        "--http2-prior-knowledge",
                        "--interface",
                        from,
                        "-o",
                        "/dev/null",
                        "-D",
                        "-",
                        "--max-time",
                        "20",
                        url)
                .redirectErrorStream(true)
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String text = new String(out, StandardCharsets.US_ASCII);
        assertThat(p.exitValue()).as(text).isZero();
        String[] lines = text.split("\r\n");
        String[] status = lines[0].split(" ");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(
                        lines[i].substring(0, colon).toLowerCase(Locale.ROOT),
                        lines[i].substring(colon + 1).strip());
            }
        }
        return new Curl(status[0], Integer.parseInt(status[1]), headers);
    }
}
