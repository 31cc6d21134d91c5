package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Limits#maxRequestsPerConnection()} and its per-listener override (nginx's {@code keepalive_requests}):
 * HTTP/1.1 gets {@code Connection: close} on the last response and the connection ends cleanly; HTTP/2 gets a
 * graceful GOAWAY and the client goes on on a new connection; each time is counted.
 */
class MaxRequestsPerConnectionTest {
    private TestUpstream upstream;
    private Gateway gateway;

    @AfterEach
    void close() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private Gateway start(Limits limits, Listener listener) {
        upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "ok\n"));
        Upstream app = Upstream.builder("app").endpoint(upstream.endpoint()).build();
        gateway = Gateway.builder()
                .listener(listener)
                .limits(limits)
                .routingTable(RoutingTable.builder()
                        .upstream(app)
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .ioThreads(1)
                .build()
                .start();
        return gateway;
    }

    @Test
    void anHttp11ConnectionIsToldToCloseOnItsLastAllowedResponseAndThenEndsWithoutAReset() throws Exception {
        Gateway g = start(Limits.builder().maxRequestsPerConnection(3).build(), Listener.http("web", "127.0.0.1:0"));
        try (Socket s = new Socket("127.0.0.1", g.address("web").getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            InputStream in = new BufferedInputStream(s.getInputStream());
            assertThat(exchange(out, in)).isEqualTo("200 keep-alive");
            assertThat(exchange(out, in)).isEqualTo("200 keep-alive");
            assertThat(exchange(out, in)).isEqualTo("200 close");
            assertThat(in.read())
                    .as("the connection ends after the last response")
                    .isEqualTo(-1);
        }
        assertThat(g.stats().maxRequestsReached()).isEqualTo(1);
    }

    @Test
    void aListenersOwnLimitOverridesTheGatewaysAndMinusOneLiftsIt() throws Exception {
        Listener two = Listener.http("web", "127.0.0.1:0")
                .withOptions(ListenerOptions.DEFAULTS.withMaxRequestsPerConnection(2));
        Gateway g = start(Limits.builder().maxRequestsPerConnection(50).build(), two);
        try (Socket s = new Socket("127.0.0.1", g.address("web").getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            InputStream in = new BufferedInputStream(s.getInputStream());
            assertThat(exchange(out, in)).isEqualTo("200 keep-alive");
            assertThat(exchange(out, in)).isEqualTo("200 close");
        }
        assertThat(ListenerOptions.DEFAULTS
                        .withMaxRequestsPerConnection(-1)
                        .maxRequestsPerConnection(
                                Limits.builder().maxRequestsPerConnection(5).build()))
                .isZero();
        assertThatThrownBy(() -> Limits.builder().maxRequestsPerConnection(-1).build())
                .hasMessage("maxRequestsPerConnection: -1 (expected: >= 0, 0 for no limit)");
    }

    @Test
    void anHttp2ConnectionGetsAGracefulGoawayAfterItsStreamsAndTheClientGoesOnOnANewOne() throws Exception {
        Gateway g = start(Limits.builder().maxRequestsPerConnection(3).build(), Listener.http("web", "127.0.0.1:0"));
        try (HttpClient h2 = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_2)
                .connectTimeout(Duration.ofSeconds(5))
                .build()) {
            URI uri = URI.create("http://127.0.0.1:" + g.address("web").getPort() + "/");
            // The first request upgrades (h2c): it is stream 1 of the connection.
            for (int i = 0; i < 10; i++) {
                HttpResponse<String> r = h2.send(
                        HttpRequest.newBuilder(uri)
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.body()).isEqualTo("ok\n");
            }
        }
        assertThat(g.stats().maxRequestsReached())
                .as("connections that reached 3 streams")
                .isGreaterThanOrEqualTo(2);
    }

    /** One keep-alive request; returns "STATUS keep-alive" or "STATUS close". */
    private static String exchange(OutputStream out, InputStream in) throws IOException {
        out.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String status = line(in);
        long length = 0;
        boolean close = false;
        for (String h = line(in); !h.isEmpty(); h = line(in)) {
            String lower = h.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = Long.parseLong(lower.substring(15).trim());
            } else if (lower.startsWith("connection:") && lower.contains("close")) {
                close = true;
            }
        }
        in.skipNBytes(length);
        return status.split(" ")[1] + (close ? " close" : " keep-alive");
    }

    private static String line(InputStream in) throws IOException {
        var b = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("end of stream");
            }
            if (c != '\r') {
                b.append((char) c);
            }
        }
        return b.toString();
    }
}
