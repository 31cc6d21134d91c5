package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The engine end to end over loopback sockets: a real HTTP client, the gateway, an in-process upstream. */
class GatewayTest {
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        client.close();
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    private TestUpstream upstream(TestUpstream.Handler handler) {
        return closeLater(TestUpstream.start(handler));
    }

    private Gateway gateway(RoutingTable table, Consumer<Gateway.Builder> more) {
        var b = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(table)
                .ioThreads(2);
        more.accept(b);
        return closeLater(b.build().start());
    }

    private static RoutingTable table(Upstream upstream) {
        return RoutingTable.builder()
                .upstream(upstream)
                .route(Route.builder("all").upstream(upstream.name()).build())
                .build();
    }

    private HttpResponse<String> get(Gateway g, String path) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create("http://" + hostPort(g) + path))
                        .timeout(Duration.ofSeconds(20))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(Gateway g, String path, String body) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create("http://" + hostPort(g) + path))
                        .timeout(Duration.ofSeconds(20))
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String hostPort(Gateway g) {
        return "127.0.0.1:" + g.address("web").getPort();
    }

    private static int deadPort() throws IOException {
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static final TestUpstream.Handler NAME_A = (req, res) -> res.respond(200, List.of(), "a\n");
    private static final TestUpstream.Handler NAME_B = (req, res) -> res.respond(200, List.of(), "b\n");

    @Test
    void roundRobinSpreadsRequestsOverEveryEndpoint() throws Exception {
        TestUpstream a = upstream(NAME_A);
        TestUpstream b = upstream(NAME_B);
        Gateway g = gateway(
                table(Upstream.builder("app")
                        .endpoint(a.endpoint())
                        .endpoint(b.endpoint())
                        .build()),
                x -> {});
        var bodies = new ArrayList<String>();
        for (int i = 0; i < 10; i++) {
            bodies.add(get(g, "/").body());
        }
        assertThat(bodies).filteredOn("a\n"::equals).hasSize(5);
        assertThat(bodies).filteredOn("b\n"::equals).hasSize(5);
    }

    @Test
    void aConnectFailureOnAnIdempotentRequestIsRetriedOnceOnAnotherEndpoint() throws Exception {
        TestUpstream live = upstream(NAME_A);
        int dead = deadPort();
        var logs = new CopyOnWriteArrayList<ExchangeLog>();
        Gateway g = gateway(
                table(Upstream.builder("app")
                        .endpoint("127.0.0.1:" + dead)
                        .endpoint(live.endpoint())
                        .build()),
                x -> x.hook(new Hook() {
                    @Override
                    public void onLog(Exchange ex) {
                        logs.add(ex.log());
                    }
                }));
        for (int i = 0; i < 4; i++) {
            HttpResponse<String> r = get(g, "/");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("a\n");
        }
        assertThat(logs).extracting(ExchangeLog::attempts).contains(2);
    }

    @Test
    void failedUpstreamConnectsAreCountedApartFromOpenedOnes() throws Exception {
        TestUpstream live = upstream(NAME_A);
        Gateway dead = gateway(
                table(Upstream.builder("app")
                        .endpoint("127.0.0.1:" + deadPort())
                        .build()),
                x -> {});
        for (int i = 0; i < 3; i++) {
            assertThat(post(dead, "/", "x").statusCode()).isEqualTo(502);
        }
        assertThat(dead.stats().upstreamConnectsFailed()).isEqualTo(3);
        assertThat(dead.stats().upstreamConnectionsOpened()).isZero();

        Gateway ok =
                gateway(table(Upstream.builder("app").endpoint(live.endpoint()).build()), x -> {});
        assertThat(get(ok, "/").statusCode()).isEqualTo(200);
        assertThat(ok.stats().upstreamConnectionsOpened()).isEqualTo(1);
        assertThat(ok.stats().upstreamConnectsFailed()).isZero();
    }

    @Test
    void aRequestRefusedBeforeAnExchangeExistsReachesTheHooksOnRefused() throws Exception {
        TestUpstream live = upstream(NAME_A);
        var refused = new CopyOnWriteArrayList<ExchangeLog>();
        Gateway g = gateway(
                table(Upstream.builder("app").endpoint(live.endpoint()).build()),
                x -> x.hook(new Hook() {
                    @Override
                    public void onRefused(ExchangeLog log) {
                        refused.add(log);
                    }
                }));
        try (var s = new Socket("127.0.0.1", g.address("web").getPort())) {
            s.getOutputStream()
                    .write("GET / HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n"
                            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String head = new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
            assertThat(head).startsWith("HTTP/1.1 400");
        }
        assertThat(refused).hasSize(1);
        assertThat(refused.get(0).status()).isEqualTo(400);
        assertThat(refused.get(0).error()).isEqualTo(ProxyError.BAD_REQUEST);
        assertThat(refused.get(0).client().getAddress().isLoopbackAddress()).isTrue();
    }

    @Test
    void aConnectFailureOnAPostIsNotRetried() throws Exception {
        int dead = deadPort();
        Gateway g = gateway(
                table(Upstream.builder("app").endpoint("127.0.0.1:" + dead).build()), x -> {});
        HttpResponse<String> r = post(g, "/", "payload");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.body()).isEqualTo("502 CONNECT_FAILED\n");
    }

    @Test
    void anUpstreamThatDoesNotAnswerInTimeGets504() throws Exception {
        TestUpstream silent = upstream((req, res) -> {});
        Gateway g = gateway(
                table(Upstream.builder("app")
                        .endpoint(silent.endpoint())
                        .responseTimeout(Duration.ofMillis(300))
                        .build()),
                x -> {});
        HttpResponse<String> r = get(g, "/slow");
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(r.body()).isEqualTo("504 UPSTREAM_TIMEOUT\n");
    }

    @Test
    void anUpstreamThatClosesMidResponseTruncatesTheClientResponse() throws Exception {
        TestUpstream flaky = upstream((req, res) -> res.stream(200, List.of(Map.entry("content-length", "100")))
                .write("partial")
                .abort());
        Gateway g =
                gateway(table(Upstream.builder("app").endpoint(flaky.endpoint()).build()), x -> {});
        assertThatThrownBy(() -> get(g, "/")).isInstanceOf(IOException.class);
    }

    @Test
    void aBusyPoolWithNoRoomToWaitAnswers503PoolExhausted() throws Exception {
        var stream = new CompletableFuture<TestUpstream.Stream>();
        TestUpstream slow = upstream((req, res) -> stream.complete(res.stream(200, List.of())));
        Gateway g = gateway(
                table(Upstream.builder("app")
                        .endpoint(slow.endpoint())
                        .maxConnectionsPerEndpoint(1)
                        .maxPendingAcquires(0)
                        .build()),
                x -> x.ioThreads(1));
        CompletableFuture<HttpResponse<String>> first = client.sendAsync(
                HttpRequest.newBuilder(URI.create("http://" + hostPort(g) + "/1"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        slow.awaitHeads(1);
        HttpResponse<String> second = get(g, "/2");
        assertThat(second.statusCode()).isEqualTo(503);
        assertThat(second.body()).isEqualTo("503 POOL_EXHAUSTED\n");
        stream.get(10, TimeUnit.SECONDS).write("done\n").end(List.of());
        assertThat(first.get(10, TimeUnit.SECONDS).body()).isEqualTo("done\n");
    }

    @Test
    void swappingTheRoutingTableSendsNewRequestsToTheNewUpstream() throws Exception {
        TestUpstream a = upstream(NAME_A);
        TestUpstream b = upstream(NAME_B);
        Gateway g = gateway(table(Upstream.builder("app").endpoint(a.endpoint()).build()), x -> {});
        assertThat(get(g, "/").body()).isEqualTo("a\n");
        g.routingTable(table(Upstream.builder("app").endpoint(b.endpoint()).build()));
        assertThat(get(g, "/").body()).isEqualTo("b\n");
        assertThat(g.routingTable().upstream("app").endpoints().getFirst().port())
                .isEqualTo(b.port());
    }

    @Test
    void upstreamHooksCanPickAnotherUpstreamByName() throws Exception {
        TestUpstream a = upstream(NAME_A);
        TestUpstream b = upstream(NAME_B);
        RoutingTable t = RoutingTable.builder()
                .upstream(Upstream.builder("blue").endpoint(a.endpoint()).build())
                .upstream(Upstream.builder("green").endpoint(b.endpoint()).build())
                .route(Route.builder("all").upstream("blue").build())
                .build();
        Gateway g = gateway(
                t,
                x -> x.hook(new Hook() {
                    @Override
                    public HookResult onUpstream(Exchange ex) {
                        if ("green".equals(ex.request().headers().get("x-canary"))) {
                            ex.useUpstream("green");
                        }
                        return HookResult.proceed();
                    }
                }));
        assertThat(get(g, "/").body()).isEqualTo("a\n");
        HttpResponse<String> canary = client.send(
                HttpRequest.newBuilder(URI.create("http://" + hostPort(g) + "/"))
                        .header("x-canary", "green")
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(canary.body()).isEqualTo("b\n");
    }

    @Test
    @SuppressWarnings("try") // s2 only holds a connection open
    void connectionsOverTheLimitAreClosedAtOnceAndCounted() throws Exception {
        TestUpstream a = upstream(NAME_A);
        Gateway g = gateway(
                table(Upstream.builder("app").endpoint(a.endpoint()).build()),
                x -> x.limits(Limits.builder().maxConnections(2).build()));
        try (var s1 = new Socket("127.0.0.1", g.address("web").getPort());
                var s2 = new Socket("127.0.0.1", g.address("web").getPort());
                var s3 = new Socket("127.0.0.1", g.address("web").getPort())) {
            s3.setSoTimeout(5000);
            assertThat(s3.getInputStream().read()).isEqualTo(-1);
            assertThat(g.stats().rejectedConnections()).isEqualTo(1);
            s1.setSoTimeout(5000);
            s1.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
            assertThat(new String(s1.getInputStream().readNBytes(12))).isEqualTo("HTTP/1.1 200");
        }
    }

    @Test
    void keepAliveConnectionsToTheUpstreamAreReused() throws Exception {
        TestUpstream a = upstream(NAME_A);
        Gateway g = gateway(table(Upstream.builder("app").endpoint(a.endpoint()).build()), x -> x.ioThreads(1));
        for (int i = 0; i < 20; i++) {
            assertThat(get(g, "/").statusCode()).isEqualTo(200);
        }
        assertThat(a.connectionsAccepted()).isEqualTo(1);
        assertThat(g.stats().upstreamConnectionsOpened()).isEqualTo(1);
    }

    /**
     * An upstream that answers the first request on each connection with keep-alive, then drops the connection when
     * a second request arrives on it: what a keep-alive connection closed by the upstream looks like to a proxy that
     * reuses it at the wrong moment.
     */
    private static final class OneShotUpstream implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        final java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();
        final Thread acceptor = Thread.ofPlatform().daemon().start(this::serve);

        OneShotUpstream() throws IOException {}

        private void serve() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    connections.incrementAndGet();
                    Thread.ofPlatform().daemon().start(() -> answerOnce(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private static void answerOnce(Socket s) {
            try (s) {
                var in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream()));
                for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {}
                s.getOutputStream().write("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n".getBytes());
                s.getOutputStream().flush();
                in.readLine(); // the next request arrives: close without answering
            } catch (IOException e) {
                // the gateway went away first
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    @Test
    void aReusedConnectionThatTheUpstreamClosedIsRetriedOnAFreshOneForIdempotentRequests() throws Exception {
        OneShotUpstream oneShot = closeLater(new OneShotUpstream());
        Gateway g = gateway(
                table(Upstream.builder("app")
                        .endpoint("127.0.0.1:" + oneShot.server.getLocalPort())
                        .build()),
                x -> x.ioThreads(1));
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = get(g, "/" + i);
            assertThat(r.statusCode()).as("request %d", i).isEqualTo(200);
            assertThat(r.body()).isEqualTo("ok\n");
        }
        assertThat(oneShot.connections.get()).isGreaterThanOrEqualTo(3);
    }

    @Test
    void gracefulShutdownLetsTheInFlightExchangeFinishAndRefusesNewConnections() throws Exception {
        var responder = new CompletableFuture<TestUpstream.Responder>();
        TestUpstream slow = upstream((req, res) -> responder.complete(res));
        var b = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(
                        table(Upstream.builder("app").endpoint(slow.endpoint()).build()));
        Gateway g = b.build().start();
        int port = g.address("web").getPort();
        try (var s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
            slow.awaitHeads(1);
            CompletableFuture<Void> closed = g.shutdown(Duration.ofSeconds(10));
            // The listener closes once its accept queue is empty (a queued connection would be reset otherwise).
            awaitRefused(port);
            assertThat(closed).isNotDone();
            responder.get(10, TimeUnit.SECONDS).respond(200, List.of(), "bye\n");
            String response = new String(readAll(s.getInputStream()));
            assertThat(response)
                    .startsWith("HTTP/1.1 200")
                    .contains("connection: close")
                    .endsWith("\r\n\r\nbye\n");
            closed.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void shutdownClosesExchangesStillRunningAtTheDeadline() throws Exception {
        TestUpstream silent = upstream((req, res) -> {});
        Gateway g = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(table(
                        Upstream.builder("app").endpoint(silent.endpoint()).build()))
                .build()
                .start();
        try (var s = new Socket("127.0.0.1", g.address("web").getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
            silent.awaitHeads(1);
            g.shutdown(Duration.ofMillis(200)).get(10, TimeUnit.SECONDS);
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
    }

    /** Polls (bounded: 100 tries, 50 ms apart) until connecting to {@code port} is refused. */
    private static void awaitRefused(int port) throws Exception {
        for (int i = 0; i < 100; i++) {
            try (var probe = new Socket("127.0.0.1", port)) {
                probe.setSoLinger(true, 0);
            } catch (IOException refused) {
                return;
            }
            Thread.sleep(50);
        }
        assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).isInstanceOf(IOException.class);
    }

    private static byte[] readAll(InputStream in) throws IOException {
        return in.readAllBytes();
    }
}
