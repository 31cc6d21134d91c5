package dev.torii.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.ConnectFailure;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import dev.torii.upstream.UpstreamTls;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** torii_upstream_connections{state} and torii_upstream_connects_total{result, reason}, against real sockets. */
class UpstreamPoolMetricsTest {
    private static final HttpClient HTTP =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Test
    void aConnectionIsInUseWhileItsExchangeWaitsForTheUpstreamAndIdleOnceItIsBack() throws Exception {
        var registry = new SimpleMeterRegistry();
        var held = new CompletableFuture<TestUpstream.Responder>();
        try (TestUpstream upstream = TestUpstream.start((req, res) -> held.complete(res));
                Gateway gateway = gateway(registry, Upstream.builder("app").endpoint(upstream.endpoint()))) {
            // Series exist from the configuration on, before any traffic.
            assertThat(connections(registry, "app", "in_use")).isZero();
            assertThat(connections(registry, "app", "idle")).isZero();

            var response = HTTP.sendAsync(request(gateway, "/a"), HttpResponse.BodyHandlers.ofString());
            TestUpstream.Responder responder = held.get(10, TimeUnit.SECONDS);
            assertThat(connections(registry, "app", "in_use")).isEqualTo(1);
            assertThat(connections(registry, "app", "idle")).isZero();

            responder.respond(200, List.of(), "ok");
            assertThat(response.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            await(() -> connections(registry, "app", "idle") == 1);
            assertThat(connections(registry, "app", "in_use")).isZero();
            assertThat(connects(registry, "app", "ok", "none")).isEqualTo(1);
            assertThat(gateway.upstreamPools()).singleElement().satisfies(s -> {
                assertThat(s.upstream()).isEqualTo("app");
                assertThat(s.idle()).isEqualTo(1);
                assertThat(s.connectsOk()).isEqualTo(1);
            });
        }
    }

    @Test
    void anHttp2ConnectionIsInUseWhileItCarriesAStreamAndIdleWithout() throws Exception {
        var registry = new SimpleMeterRegistry();
        // The server reads the upload only after 3 s: the stream stays open that long.
        try (var upstream = dev.torii.testing.Http2TestServer.start(3000);
                Gateway gateway = gateway(
                        registry,
                        Upstream.builder("app").endpoint(upstream.endpoint()).protocol(UpstreamProtocol.H2C))) {
            var response = HTTP.sendAsync(
                    HttpRequest.newBuilder(URI.create(
                                    "http://127.0.0.1:" + gateway.address("web").getPort() + "/upload"))
                            .POST(HttpRequest.BodyPublishers.ofString("payload"))
                            .timeout(Duration.ofSeconds(20))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            await(() -> connections(registry, "app", "in_use") == 1 || response.isDone());
            assertThat(response).isNotDone();
            assertThat(connections(registry, "app", "idle")).isZero();
            assertThat(response.get(20, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            await(() -> connections(registry, "app", "idle") == 1);
            assertThat(connections(registry, "app", "in_use")).isZero();
            assertThat(connects(registry, "app", "ok", "none")).isEqualTo(1);
        }
    }

    @Test
    void aClosedPortCountsAsRefused() throws Exception {
        var registry = new SimpleMeterRegistry();
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort(); // closed again: nothing listens there now
        }
        try (Gateway gateway = gateway(registry, Upstream.builder("app").endpoint("127.0.0.1:" + closed))) {
            assertThat(send(gateway).statusCode()).isEqualTo(502);
            assertThat(connects(registry, "app", "failed", "refused")).isEqualTo(1);
            assertThat(connects(registry, "app", "ok", "none")).isZero();
            assertThat(gateway.upstreamPools().getFirst().connectsFailed(ConnectFailure.REFUSED))
                    .isEqualTo(1);
        }
    }

    @Test
    void aNameThatDoesNotResolveCountsAsDns() throws Exception {
        var registry = new SimpleMeterRegistry();
        try (Gateway gateway = gateway(registry, Upstream.builder("app").endpoint("no-such-upstream.invalid:8080"))) {
            assertThat(send(gateway).statusCode()).isEqualTo(502);
            assertThat(connects(registry, "app", "failed", "dns")).isEqualTo(1);
        }
    }

    @Test
    void aServerThatNeverAnswersTheTlsHandshakeCountsAsTls() throws Exception {
        var registry = new SimpleMeterRegistry();
        // The kernel accepts the TCP connection into the backlog; nobody ever speaks TLS on it.
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                Gateway gateway = gateway(
                        registry,
                        Upstream.builder("app")
                                .endpoint("127.0.0.1:" + silent.getLocalPort())
                                .protocol(UpstreamProtocol.HTTPS)
                                .tls(UpstreamTls.builder().insecureSkipVerify().build())
                                .connectTimeout(Duration.ofMillis(300)))) {
            int status = send(gateway).statusCode();
            assertThat(status).isBetween(502, 504);
            assertThat(connects(registry, "app", "failed", "tls")).isEqualTo(1);
            assertThat(connects(registry, "app", "failed", "timeout")).isZero();
        }
    }

    @Test
    void aListenerWithAFullBacklogThatDropsTheSynCountsAsTimeout() throws Exception {
        var registry = new SimpleMeterRegistry();
        // Backlog 1, never accepted: once its accept queue is full, Linux drops further SYNs (a blackhole on
        // loopback); the fillers are plain sockets that may themselves time out.
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            List<Socket> fillers = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    Socket s = new Socket();
                    fillers.add(s);
                    try {
                        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), full.getLocalPort()), 200);
                    } catch (java.io.IOException dropped) {
                        break; // the queue is full: SYNs go unanswered now
                    }
                }
                try (Gateway gateway = gateway(
                        registry,
                        Upstream.builder("app")
                                .endpoint("127.0.0.1:" + full.getLocalPort())
                                .connectTimeout(Duration.ofMillis(300)))) {
                    assertThat(send(gateway).statusCode()).isEqualTo(504);
                    assertThat(connects(registry, "app", "failed", "timeout")).isEqualTo(1);
                }
            } finally {
                for (Socket s : fillers) {
                    s.close();
                }
            }
        }
    }

    @Test
    void connectFailuresAreClassifiedByCause() {
        assertThat(dev.torii.internal.upstream.UpstreamCounters.reasonOf(
                        new java.net.ConnectException("Connection refused")))
                .isEqualTo(ConnectFailure.REFUSED);
        assertThat(dev.torii.internal.upstream.UpstreamCounters.reasonOf(
                        new io.netty.channel.ConnectTimeoutException("connection timed out")))
                .isEqualTo(ConnectFailure.TIMEOUT);
        assertThat(dev.torii.internal.upstream.UpstreamCounters.reasonOf(
                        new java.io.IOException("Connection reset by peer")))
                .isEqualTo(ConnectFailure.RESET);
        assertThat(dev.torii.internal.upstream.UpstreamCounters.reasonOf(
                        new java.net.NoRouteToHostException("No route to host")))
                .isEqualTo(ConnectFailure.OTHER);
        assertThat(dev.torii.internal.upstream.UpstreamCounters.reasonOf(new javax.net.ssl.SSLException("bad")))
                .isEqualTo(ConnectFailure.TLS);
    }

    private static Gateway gateway(SimpleMeterRegistry registry, Upstream.Builder upstream) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(upstream.build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .meterRegistry(registry)
                .ioThreads(2)
                .build()
                .start();
    }

    private static HttpRequest request(Gateway gateway, String path) {
        return HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + gateway.address("web").getPort() + path))
                .timeout(Duration.ofSeconds(20))
                .build();
    }

    private static HttpResponse<String> send(Gateway gateway) throws Exception {
        return HTTP.send(request(gateway, "/"), HttpResponse.BodyHandlers.ofString());
    }

    private static double connections(SimpleMeterRegistry registry, String upstream, String state) {
        return registry.get("torii.upstream.connections")
                .tags("upstream", upstream, "state", state)
                .gauge()
                .value();
    }

    private static double connects(SimpleMeterRegistry registry, String upstream, String result, String reason) {
        return registry.get("torii.upstream.connects")
                .tags(Map.of("upstream", upstream, "result", result, "reason", reason).entrySet().stream()
                        .flatMap(e -> java.util.stream.Stream.of(e.getKey(), e.getValue()))
                        .toArray(String[]::new))
                .functionCounter()
                .count();
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(condition.getAsBoolean()).isTrue();
    }
}
