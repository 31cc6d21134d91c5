package dev.torii.access;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.ListenerOptions;
import dev.torii.ratelimit.Bandwidth;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.TestCertificates;
import dev.torii.testing.TestUpstream;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;

/**
 * {@code limits.newConnectionsPerClient} and a listener's own rate: one client address over its rate is closed at
 * accept on http, https and tcp listeners while other addresses are served; each refusal is counted under its reason.
 * Real sockets bound to 127.0.0.x; the rates refill once an hour, so nothing depends on timing.
 */
class ClientConnectionRateTest {
    private static final InetSocketAddress A = new InetSocketAddress(loopback("127.0.0.2"), 40000);
    private static final InetSocketAddress B = new InetSocketAddress(loopback("127.0.0.3"), 40000);

    @Test
    void anAddressOverItsRateIsRefusedUntilItsBucketRefillsWhileOthersAreAdmitted() {
        AtomicLong now = new AtomicLong();
        var guard = new ClientConnectionRate(new Bandwidth(1, Duration.ofSeconds(1), 2), Map.of(), 100, now::get);
        assertThat(guard.admit("web", A)).isTrue();
        assertThat(guard.admit("raw", A)).as("one bucket over every listener").isTrue();
        assertThat(guard.admit("web", A)).isFalse();
        assertThat(guard.admit("web", B)).isTrue();
        now.addAndGet(Duration.ofSeconds(1).toNanos());
        assertThat(guard.admit("web", A)).as("refilled").isTrue();
        assertThat(guard.admit("web", A)).isFalse();
        assertThat(guard.refused()).isEqualTo(2);
        assertThat(guard.reason()).isEqualTo("new_connections_per_client");
    }

    @Test
    void aListenerWithARateOfItsOwnCountsInBucketsOfItsOwn() {
        AtomicLong now = new AtomicLong();
        var guard = new ClientConnectionRate(
                new Bandwidth(1, Duration.ofHours(1), 1),
                Map.of("secure", new Bandwidth(1, Duration.ofHours(1), 2)),
                100,
                now::get);
        assertThat(guard.admit("web", A)).isTrue();
        assertThat(guard.admit("web", A)).isFalse();
        assertThat(guard.admit("secure", A)).isTrue();
        assertThat(guard.admit("secure", A)).isTrue();
        assertThat(guard.admit("secure", A)).isFalse();
    }

    @Test
    void aFloodOfDistinctAddressesEvictsTheOldestBucketsInsteadOfGrowing() throws Exception {
        AtomicLong now = new AtomicLong();
        var guard = new ClientConnectionRate(new Bandwidth(1, Duration.ofHours(1), 1), Map.of(), 100, now::get);
        for (int i = 0; i < 1000; i++) {
            var client =
                    new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 0, (byte) (i >> 8), (byte) i}), 1);
            assertThat(guard.admit("web", client)).isTrue();
        }
        assertThat(guard.clients()).isLessThanOrEqualTo(100);
        assertThat(guard.evicted()).isGreaterThanOrEqualTo(900);
    }

    @Test
    void overHttpHttpsAndTcpListenersAFloodingAddressIsClosedAtAcceptWhileAnotherIsServed() throws Exception {
        try (TestCertificates certs = TestCertificates.create();
                TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "ok\n"))) {
            TestCertificates.Issued site = certs.issue("a.test");
            var registry = new SimpleMeterRegistry();
            ServerTls tls = ServerTls.builder()
                    .certificates(List.of(CertificateFiles.of(site.cert(), site.key())))
                    .build();
            try (Gateway g = Gateway.builder()
                    .listener(Listener.http("web", "127.0.0.1:0"))
                    .listener(Listener.https("secure", "127.0.0.1:0", tls)
                            .withOptions(ListenerOptions.DEFAULTS.withNewConnectionsPerClient(
                                    new Bandwidth(1, Duration.ofHours(1), 1))))
                    .listener(TcpListener.builder("raw", "127.0.0.1:0", "app").build())
                    .limits(Limits.builder()
                            .newConnectionsPerClient(new Bandwidth(1, Duration.ofHours(1), 3))
                            .maxConnectionsPerClient(100)
                            .build())
                    .routingTable(RoutingTable.builder()
                            .upstream(Upstream.builder("app")
                                    .endpoint(upstream.endpoint())
                                    .build())
                            .route(Route.builder("all").upstream("app").build())
                            .build())
                    .meterRegistry(registry)
                    .ioThreads(1)
                    .build()
                    .start()) {
                int web = g.address("web").getPort();
                int raw = g.address("raw").getPort();
                int secure = g.address("secure").getPort();
                // 127.0.0.2 spends its three tokens on http and tcp alike; the fourth connection is refused.
                assertThat(served("127.0.0.2", web)).isTrue();
                assertThat(served("127.0.0.2", raw)).isTrue();
                assertThat(served("127.0.0.2", web)).isTrue();
                assertThat(served("127.0.0.2", raw))
                        .as("fourth connection, tcp")
                        .isFalse();
                assertThat(served("127.0.0.2", web))
                        .as("fifth connection, http")
                        .isFalse();
                assertThat(served("127.0.0.3", web)).as("another address").isTrue();
                assertThat(served("127.0.0.3", raw)).as("another address").isTrue();
                // The https listener's own rate: one connection per hour, whatever the global bucket says.
                assertThat(handshakes("127.0.0.2", secure)).isTrue();
                assertThat(handshakes("127.0.0.2", secure)).isFalse();
                assertThat(handshakes("127.0.0.3", secure)).isTrue();

                assertThat(g.stats().guardedConnections()).isEqualTo(3);
                assertThat(registry.get("torii.guard.connections.refused")
                                .tag("reason", "new_connections_per_client")
                                .functionCounter()
                                .count())
                        .isEqualTo(3.0);
                assertThat(registry.get("torii.guard.connections.refused")
                                .tag("reason", "max_connections_per_client")
                                .functionCounter()
                                .count())
                        .isZero();
            }
        }
    }

    /** One request on a new connection from {@code from}: whether an answer came (else it was closed at accept). */
    private static boolean served(String from, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(10_000);
            try {
                s.getOutputStream()
                        .write("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                InputStream in = s.getInputStream();
                return new String(in.readAllBytes(), StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200");
            } catch (IOException e) {
                return false; // reset by the close
            }
        }
    }

    /** Whether a TLS handshake from {@code from} completes (a refused connection is closed before it). */
    private static boolean handshakes(String from, int port) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new TrustAll()}, null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(10_000);
            try {
                s.startHandshake();
                return true;
            } catch (IOException e) {
                return false;
            }
        }
    }

    /** The test only checks that a handshake happens; the certificate is not what is under test. */
    private static final class TrustAll implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    private static InetAddress loopback(String address) {
        return InetAddress.ofLiteral(address);
    }
}
