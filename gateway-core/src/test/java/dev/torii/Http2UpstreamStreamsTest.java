package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.testing.Http2TestServer;
import dev.torii.testing.RawClient.RawResponse;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What nginx cannot show, against Netty's own HTTP/2 server: trailers from an HTTP/2 upstream reach an HTTP/1.1
 * client, {@code TE: trailers} and {@code :scheme} reach the upstream, and a stream the upstream resets fails that
 * exchange only.
 */
class Http2UpstreamStreamsTest {
    @Test
    void trailersFromAnHttp2UpstreamReachAnHttp1ClientAsChunkedTrailers() {
        try (var server = Http2TestServer.start(0);
                var gateway = Http2UpstreamTest.gateway(upstream(server));
                var client = Http2UpstreamTest.client(gateway)) {
            RawResponse r = client.write("GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            assertThat(r.bodyText()).isEqualTo("hello world");
            assertThat(r.header("transfer-encoding")).isEqualTo("chunked");
            assertThat(r.trailer("grpc-status")).isEqualTo("0");
            assertThat(r.trailer("x-trailer")).isEqualTo("t-value");
            assertThat(r.header("x-seen-te"))
                    .as("TE: trailers reached the upstream")
                    .isEqualTo("trailers");
            assertThat(r.header("x-seen-scheme")).isEqualTo("http");
            assertThat(server.headersOnlyRequests())
                    .as("a bodiless request went out as one HEADERS frame ending the stream")
                    .isEqualTo(1);
        }
    }

    @Test
    void aStreamResetByTheUpstreamFailsOnlyItsExchange() {
        List<ProxyError> errors = new CopyOnWriteArrayList<>();
        try (var server = Http2TestServer.start(0);
                var gateway = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .ioThreads(1)
                        .hook(new Hook() {
                            @Override
                            public void onLog(Exchange exchange) {
                                errors.add(exchange.log().error());
                            }
                        })
                        .routingTable(dev.torii.route.RoutingTable.builder()
                                .upstream(upstream(server))
                                .route(dev.torii.route.Route.builder("all")
                                        .upstream("app")
                                        .build())
                                .build())
                        .build()
                        .start();
                var other = Http2UpstreamTest.client(gateway);
                var client = Http2UpstreamTest.client(gateway)) {
            // A request in progress on the same HTTP/2 connection while the other stream is reset.
            assertThat(other.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                            .readResponse()
                            .status())
                    .isEqualTo(200);

            client.write("GET /reset HTTP/1.1\r\nHost: x\r\n\r\n");
            String got = new String(client.readUntilClosed(), StandardCharsets.ISO_8859_1);
            assertThat(got)
                    .as("the head was relayed, then the client connection closed mid-body")
                    .startsWith("HTTP/1.1 200")
                    .doesNotContain("\r\n0\r\n\r\n");

            assertThat(other.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                            .readResponse()
                            .status())
                    .isEqualTo(200);
            assertThat(server.connections())
                    .as("the shared connection survived the reset")
                    .isEqualTo(1);
            // LOG hooks run once the response is out, so the last record may come a moment after the client read it.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (errors.size() < 3 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(errors).containsExactlyInAnyOrder(null, ProxyError.UPSTREAM_RESET, null);
        }
    }

    private static Upstream upstream(Http2TestServer server) {
        return Upstream.builder("app")
                .endpoint(server.endpoint())
                .protocol(UpstreamProtocol.H2C)
                .build();
    }
}
