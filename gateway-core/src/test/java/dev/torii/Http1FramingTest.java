package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Framing rules a proxy must hold that the llhttp corpus does not cover. */
class Http1FramingTest {

    @Test
    void anHttp11RequestWithoutHostIsRejectedAndNeverForwarded() {
        try (var upstream = TestUpstream.start();
                var gateway = Http1FramingCorpusTest.gatewayTo(upstream);
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(5))) {
            var r = client.write("GET /no-host HTTP/1.1\r\n\r\n").readResponse();

            assertThat(r.status()).isEqualTo(400);
            assertThat(client.isClosedByPeer()).isTrue();
            assertThat(upstream.heads()).isEmpty();
        }
    }

    /**
     * Netty's decoder gives a GET with {@code Sec-WebSocket-Key1} and {@code -Key2} (the 2010 hixie-76 WebSocket
     * handshake) an implicit 8-byte body. No other parser does: for them the next bytes start the next request. A
     * proxy that reads them as a body can hide a request from itself (smuggling), so either the body is empty and the
     * next request is seen as one, or the handshake is refused with 400 and nothing is forwarded.
     */
    @Test
    void aGetWithHixieWebSocketKeysHasNoImplicitBody() {
        try (var upstream = TestUpstream.start();
                var gateway = Http1FramingCorpusTest.gatewayTo(upstream);
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(5))) {
            client.write("GET /first HTTP/1.1\r\nHost: example.test\r\n"
                    + "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nSec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
                    + "GET /second HTTP/1.1\r\nHost: example.test\r\n\r\n");

            var first = client.readResponse();
            if (first.status() == 400) {
                // Refusing the obsolete handshake outright is safe too, as long as nothing is forwarded.
                assertThat(client.isClosedByPeer()).isTrue();
                assertThat(upstream.heads()).isEmpty();
                return;
            }
            var second = client.readResponse();

            assertThat(first.status()).isEqualTo(200);
            assertThat(second.status())
                    .as("second response '%s'; the backend got %s", second, upstream.requests())
                    .isEqualTo(200);
            var got = upstream.awaitRequests(2);
            assertThat(got).extracting(TestUpstream.RecordedRequest::uri).containsExactly("/first", "/second");
            assertThat(got.getFirst().body()).isEmpty();
        }
    }

    /**
     * A chunk-size line with an empty extension ({@code 2;}) is outside RFC 9112's grammar. Torii ignores chunk
     * extensions, as nginx and HAProxy do, and writes its own chunk-size lines upstream: the upstream gets a clean,
     * complete body and never the extension.
     */
    @Test
    void chunkExtensionsAreDroppedAndTheBodyIsReframedUpstream() {
        try (var upstream = TestUpstream.start();
                var gateway = Http1FramingCorpusTest.gatewayTo(upstream);
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(5))) {
            var r = client.write("POST /ext HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + "2;\r\naa\r\n3;name=value\r\nbbb\r\n0\r\n\r\n")
                    .readResponse();

            assertThat(r.status()).isEqualTo(200);
            var got = upstream.awaitRequest();
            assertThat(got.bodyText()).isEqualTo("aabbb");
        }
    }
}
