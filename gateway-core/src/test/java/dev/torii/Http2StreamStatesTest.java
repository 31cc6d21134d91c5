package dev.torii;

import static dev.torii.testing.RawH2Client.PROTOCOL_ERROR;
import static dev.torii.testing.RawH2Client.RST_STREAM;
import static dev.torii.testing.RawH2Client.STREAM_CLOSED;
import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * RFC 9113 stream states with raw frames: what a frame on a reset, half-closed or closed stream gets (section 5.1),
 * HEADERS on a stream id lower than one already used (5.1.1), a response that ends before its request (8.1), and a
 * broken connection preface on an h2c port.
 */
class Http2StreamStatesTest {
    private static TestUpstream upstream;
    private static Gateway gateway;

    @BeforeAll
    static void start() {
        upstream = TestUpstream.start((req, res) -> {
            if (req.uri().startsWith("/slow")) {
                io.netty.util.concurrent.GlobalEventExecutor.INSTANCE.schedule(
                        () -> res.respond(200, List.of(), "slow\n"), 1500, TimeUnit.MILLISECONDS);
                return;
            }
            res.respond(200, List.of(), req.method() + " " + req.uri() + "\n");
        });
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .hook(new Hook() {
                    @Override
                    public HookResult onRequest(Exchange exchange) {
                        return exchange.request().path().startsWith("/refuse")
                                ? HookResult.respond(403, "no\n")
                                : HookResult.proceed();
                    }
                })
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        upstream.close();
    }

    private static RawH2Client client() throws IOException {
        return RawH2Client.connect(
                new InetSocketAddress("127.0.0.1", gateway.address("web").getPort()));
    }

    private static Http2Headers get(String path) {
        return RawH2Client.request("GET", path, "h2.test");
    }

    @Test
    void framesAfterTheClientResetAStreamAreAStreamErrorStreamClosed() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, RawH2Client.request("POST", "/slow/reset", "h2.test"), false)
                    .rst(1, 0x8)
                    .data(1, "x".getBytes(), false)
                    .flush();
            assertThat(c.await(1).resetCode()).isEqualTo(STREAM_CLOSED);
            c.headers(3, RawH2Client.request("POST", "/slow/reset2", "h2.test"), false)
                    .rst(3, 0x8)
                    .headers(3, get("/again"), true)
                    .flush();
            assertThat(c.await(3).resetCode()).isEqualTo(STREAM_CLOSED);
            c.headers(5, get("/after-reset"), true).flush();
            assertThat(c.await(5).status())
                    .as("a stream error: the connection goes on")
                    .isEqualTo(200);
        }
    }

    @Test
    void dataOnAHalfClosedStreamIsAStreamErrorStreamClosed() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, get("/slow/half-closed"), true)
                    .data(1, "x".getBytes(), false)
                    .flush();
            assertThat(c.await(1).resetCode()).isEqualTo(STREAM_CLOSED);
            c.headers(3, get("/after-half-closed"), true).flush();
            assertThat(c.await(3).status()).isEqualTo(200);
        }
    }

    @Test
    void dataOnAStreamThatClosedNormallyIsAConnectionErrorStreamClosed() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, get("/closed"), true).flush();
            assertThat(c.await(1).status()).isEqualTo(200);
            c.data(1, "x".getBytes(), false).flush();
            assertThat(c.awaitGoAway()).isEqualTo(STREAM_CLOSED);
        }
    }

    @Test
    void headersOnAStreamIdLowerThanOneAlreadyUsedIsAConnectionErrorProtocolError() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(5, get("/five"), true).flush();
            assertThat(c.await(5).status()).isEqualTo(200);
            c.headers(3, get("/three"), true).flush();
            assertThat(c.awaitGoAway()).isEqualTo(PROTOCOL_ERROR);
        }
        assertThat(upstream.requests()).noneMatch(r -> r.uri().equals("/three"));
    }

    @Test
    void aResponseThatCompletesWhileTheRequestIsOpenEndsTheStreamWithNoError() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, RawH2Client.request("POST", "/refuse", "h2.test"), false)
                    .data(1, "part".getBytes(), false)
                    .flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status()).isEqualTo(403);
            assertThat(o.reset()).as("the response ended with END_STREAM").isFalse();
            RawH2Client.Frame f;
            do {
                f = c.read();
            } while (f != null && !(f.type() == RST_STREAM && f.streamId() == 1));
            assertThat(f).as("RST_STREAM after the response").isNotNull();
            assertThat(f.errorCode()).as("NO_ERROR, not CANCEL").isEqualTo(0);
            c.headers(3, get("/after-early"), true).flush();
            assertThat(c.await(3).status()).isEqualTo(200);
        }
    }

    @Test
    void aBrokenHttp2PrefaceIsAnsweredWithGoAwayProtocolError() throws Exception {
        try (Socket s = new Socket("127.0.0.1", gateway.address("web").getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] answer = s.getInputStream().readAllBytes();
            assertThat(answer).hasSize(9 + 17);
            assertThat(answer[3]).as("SETTINGS first").isEqualTo((byte) 4);
            assertThat(answer[9 + 3]).as("then GOAWAY").isEqualTo((byte) 7);
            assertThat(answer[9 + 16]).as("PROTOCOL_ERROR").isEqualTo((byte) PROTOCOL_ERROR);
        }
        try (Socket s = new Socket("127.0.0.1", gateway.address("web").getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("PRI * HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).as("not an HTTP/2 attempt: HTTP/1.1 rules").startsWith("HTTP/1.1 ");
        }
    }
}
