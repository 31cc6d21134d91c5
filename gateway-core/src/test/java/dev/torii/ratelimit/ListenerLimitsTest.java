package dev.torii.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.ErrorResponder;
import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.access.AccessControl;
import dev.torii.access.AccessList;
import dev.torii.access.AccessPolicy;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Rate limits and IP lists attached to one listener: a listener's policy limits every request it accepts (HTTP/1.1 and
 * h2) or every connection (tcp), and leaves the other listeners alone; a listener's IP list closes a refused address at
 * accept on http and tcp listeners. Real sockets bound to 127.0.0.x; the buckets refill once an hour.
 */
class ListenerLimitsTest {
    @Test
    void aListenersPoliciesAndListApplyToItsRequestsAndConnectionsOnly() throws Exception {
        RateLimits limits = RateLimits.of(
                List.of(
                        RateLimitPolicy.builder("per-ip")
                                .bandwidth(new Bandwidth(1, Duration.ofHours(1), 2))
                                .build(),
                        RateLimitPolicy.builder("per-conn")
                                .bandwidth(new Bandwidth(1, Duration.ofHours(1), 1))
                                .build()),
                null);
        var registry = new SimpleMeterRegistry();
        try (TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "ok\n"));
                AccessControl access = AccessControl.builder(new AccessPolicy(
                                AccessList.open(),
                                Map.of(
                                        "web", AccessList.of(List.of(), List.of("127.0.0.4")),
                                        "raw", AccessList.of(List.of(), List.of("127.0.0.4"))),
                                Map.of(),
                                Duration.ofSeconds(1)))
                        .build()
                        .start()) {
            Gateway.Builder b = Gateway.builder()
                    .listener(Listener.http("web", "127.0.0.1:0"))
                    .listener(Listener.http("other", "127.0.0.1:0"))
                    .listener(TcpListener.builder("raw", "127.0.0.1:0", "app").build())
                    .connectionGuard(access.connectionGuard())
                    .routingTable(RoutingTable.builder()
                            .upstream(Upstream.builder("app")
                                    .endpoint(upstream.endpoint())
                                    .build())
                            .route(Route.builder("all").upstream("app").build())
                            .build())
                    .meterRegistry(registry)
                    .ioThreads(1);
            limits.listenerHooks("web", List.of("per-ip"), ErrorResponder.plainText())
                    .forEach(b::hook);
            limits.listenerHooks("raw", List.of("per-conn"), ErrorResponder.plainText())
                    .forEach(b::hook);
            try (Gateway g = b.build().start()) {
                String web = "http://127.0.0.1:" + g.address("web").getPort() + "/";
                String other = "http://127.0.0.1:" + g.address("other").getPort() + "/";
                int raw = g.address("raw").getPort();

                assertThat(statuses("127.0.0.2", HttpClient.Version.HTTP_1_1, web, 3))
                        .containsExactly("200 HTTP_1_1", "200 HTTP_1_1", "429 HTTP_1_1");
                assertThat(statuses("127.0.0.3", HttpClient.Version.HTTP_1_1, web, 1))
                        .containsExactly("200 HTTP_1_1");
                assertThat(statuses("127.0.0.2", HttpClient.Version.HTTP_1_1, other, 3))
                        .as("another listener")
                        .containsExactly("200 HTTP_1_1", "200 HTTP_1_1", "200 HTTP_1_1");
                // h2c: the first request upgrades the connection (its answer comes as stream 1), the next ones are h2
                // streams.
                assertThat(statuses("127.0.0.5", HttpClient.Version.HTTP_2, web, 3))
                        .containsExactly("200 HTTP_2", "200 HTTP_2", "429 HTTP_2");
                assertThat(limits.get("per-ip").stats().limited()).isEqualTo(2);

                assertThat(tcpServed("127.0.0.2", raw)).isTrue();
                assertThat(tcpServed("127.0.0.2", raw))
                        .as("second connection of the hour")
                        .isFalse();
                assertThat(tcpServed("127.0.0.3", raw)).isTrue();
                assertThat(limits.get("per-conn").stats().limited()).isEqualTo(1);

                // The listeners' lists close 127.0.0.4 at accept; the listener without a list serves it.
                assertThat(tcpServed("127.0.0.4", raw)).isFalse();
                assertThat(httpServed("127.0.0.4", g.address("web").getPort())).isFalse();
                assertThat(httpServed("127.0.0.4", g.address("other").getPort()))
                        .isTrue();
                assertThat(access.stats().deniedConnections()).isEqualTo(2);
                assertThat(access.stats().deniedRequests()).isZero();
                assertThat(registry.get("torii.guard.connections.refused")
                                .tag("reason", "access_list")
                                .functionCounter()
                                .count())
                        .isEqualTo(2.0);
            }
        }
    }

    /** {@code n} requests from {@code from} on one client: each one's status and protocol version. */
    private static List<String> statuses(String from, HttpClient.Version version, String url, int n) throws Exception {
        List<String> out = new ArrayList<>();
        try (HttpClient client = HttpClient.newBuilder()
                .version(version)
                .localAddress(InetAddress.getByName(from))
                .connectTimeout(Duration.ofSeconds(5))
                .build()) {
            for (int i = 0; i < n; i++) {
                HttpResponse<String> r = client.send(
                        HttpRequest.newBuilder(URI.create(url))
                                .timeout(Duration.ofSeconds(20))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                out.add(r.statusCode() + " " + r.version());
            }
        }
        return out;
    }

    /** Whether an HTTP request through the TCP listener from {@code from} gets an answer before EOF. */
    private static boolean tcpServed(String from, int port) throws IOException {
        return httpServed(from, port);
    }

    private static boolean httpServed(String from, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(20_000);
            try {
                s.getOutputStream()
                        .write("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)
                        .startsWith("HTTP/1.1 200");
            } catch (IOException e) {
                return false; // reset by the close
            }
        }
    }
}
