package dev.torii.dns;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.Dig;
import dev.torii.testing.TestUpstream;
import dev.torii.testing.UnboundServer;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real unbound paused with SIGSTOP (silent, the congestion case, not refusing) after its answers were cached and
 * have expired: DNS clients of the server mode, HTTP upstreams and TCP backends named by DNS are all answered from the
 * stale cache while unbound is still silent. The query timeout is a minute and the clients give up long before it, so
 * an answer can only have come from the stale path; no test measures time.
 */
class SilentDnsUpstreamTest {
    private static final Duration QUERY_TIMEOUT = Duration.ofSeconds(60);

    private final FakeTicker ticker = new FakeTicker();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private UnboundServer unbound;
    private DnsCache cache;

    @BeforeEach
    void start() {
        unbound = UnboundServer.start(List.of(
                "local-zone: \".\" static",
                "local-zone: \"silent.test.\" static",
                "local-data: \"silent.test. 3600 IN SOA ns.silent.test. admin.silent.test. 1 3600 600 86400 5\"",
                "local-data: \"app.silent.test. 10 IN A 127.0.0.1\""));
        cache = DnsCache.builder()
                .upstreams(List.of(unbound.address()))
                .ticker(ticker)
                .queryTimeout(QUERY_TIMEOUT)
                .attempts(1)
                .refreshAheadAt(1.0)
                .build();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            unbound.resume();
        } finally {
            for (int i = closeables.size() - 1; i >= 0; i--) {
                closeables.get(i).close();
            }
            cache.close();
            unbound.close();
        }
    }

    /** Caches the name, pauses unbound, and moves time past the TTL (10 s) into the stale window. */
    private void expireWhileSilent() throws Exception {
        assertThat(cache.resolve("app.silent.test").get()).containsExactly(InetAddress.ofLiteral("127.0.0.1"));
        unbound.pause();
        ticker.advance(Duration.ofSeconds(20));
    }

    private void assertAnsweredStaleWhileSilent() {
        assertThat(cache.stats().staleServed()).isGreaterThanOrEqualTo(1);
        // Still silent: the refresh is waiting for its one-minute deadline.
        assertThat(cache.stats().upstreamTimeouts()).isZero();
        assertThat(cache.stats().inFlight()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void dnsClientsGetTheStaleAnswerWhileTheUpstreamIsSilent() throws Exception {
        DnsServer server = DnsServer.builder(cache)
                .address("127.0.0.1:0")
                .ioThreads(1)
                .build()
                .start();
        closeables.add(server);
        expireWhileSilent();

        // dig gives up after 2 s (+time=2 +tries=1): well inside the query timeout.
        Dig.Result udp = Dig.query(server.address(), "app.silent.test", "A");
        assertThat(udp.status()).isEqualTo("NOERROR");
        assertThat(udp.section("ANSWER")).containsExactly("app.silent.test. 30 IN A 127.0.0.1"); // stale TTL
        Dig.Result tcp = Dig.query(server.address(), "+tcp", "app.silent.test", "A");
        assertThat(tcp.section("ANSWER")).containsExactly("app.silent.test. 30 IN A 127.0.0.1");
        assertAnsweredStaleWhileSilent();
    }

    @Test
    void anHttpUpstreamNamedByDnsIsReachedWhileTheUpstreamIsSilent() throws Exception {
        TestUpstream backend = TestUpstream.start((req, res) -> res.respond(200, List.of(), "stale but served\n"));
        closeables.add(backend);
        Gateway gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .dnsCache(cache)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("named")
                                .endpoint("app.silent.test:" + backend.port())
                                .build())
                        .route(Route.builder("named").upstream("named").build())
                        .build())
                .build()
                .start();
        closeables.add(gateway);
        expireWhileSilent();

        try (HttpClient client =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
            HttpResponse<String> response = client.send(
                    HttpRequest.newBuilder(URI.create(
                                    "http://127.0.0.1:" + gateway.address("web").getPort() + "/"))
                            .timeout(Duration.ofSeconds(20))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).isEqualTo("stale but served\n");
        }
        assertAnsweredStaleWhileSilent();
    }

    @Test
    void aTcpBackendNamedByDnsIsReachedWhileTheUpstreamIsSilent() throws Exception {
        ServerSocket backend = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        closeables.add(backend);
        Thread greeter = Thread.ofVirtual().start(() -> {
            try (Socket s = backend.accept();
                    OutputStream out = s.getOutputStream()) {
                out.write("hello from the backend\n".getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // closed by the test's end
            }
        });
        closeables.add(greeter::interrupt);
        Gateway gateway = Gateway.builder()
                .listener(TcpListener.of("tcp", "127.0.0.1:0", "backend"))
                .dnsCache(cache)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("backend")
                                .endpoint("app.silent.test:" + backend.getLocalPort())
                                .connectTimeout(Duration.ofSeconds(5))
                                .build())
                        .build())
                .build()
                .start();
        closeables.add(gateway);
        expireWhileSilent();

        InetSocketAddress address = gateway.address("tcp");
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.setSoTimeout(20_000);
            InputStream in = client.getInputStream();
            String greeting = new String(in.readNBytes(23), StandardCharsets.UTF_8);
            assertThat(greeting).isEqualTo("hello from the backend\n");
        }
        assertAnsweredStaleWhileSilent();
    }
}
