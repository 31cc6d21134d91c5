package dev.torii;

import static dev.torii.testing.RawH2Client.PROTOCOL_ERROR;
import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.testing.TestCertificates;
import dev.torii.testing.TestUpstream;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Upstream;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An HTTP/2 request's {@code :scheme} must name the connection it came on ({@code https} over TLS, {@code http} in
 * clear text): a mismatch is a malformed request, reset with PROTOCOL_ERROR before any upstream sees it, and the
 * connection goes on serving.
 */
class Http2SchemeTest {
    private static TestCertificates certs;
    private static TestUpstream upstream;
    private static Gateway gateway;

    @BeforeAll
    static void start() throws IOException {
        certs = TestCertificates.create();
        TestCertificates.Issued site = certs.issue("h2.test");
        upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE);
        gateway = Gateway.builder()
                .listener(Listener.http("clear", "127.0.0.1:0"))
                .listener(Listener.https(
                        "secure",
                        "127.0.0.1:0",
                        ServerTls.builder()
                                .certificates(List.of(CertificateFiles.of(site.cert(), site.key())))
                                .build()))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
        if (certs != null) {
            certs.close();
        }
    }

    private static Http2Headers get(String scheme, String path) {
        return RawH2Client.request("GET", path, "h2.test").scheme(scheme);
    }

    private static InetSocketAddress address(String listener) {
        return new InetSocketAddress("127.0.0.1", gateway.address(listener).getPort());
    }

    private static void assertMismatchIsResetAndTheConnectionGoesOn(RawH2Client c, String wrong, String right)
            throws IOException {
        long malformedBefore = gateway.stats().malformedHttp2Requests();
        c.headers(1, get(wrong, "/wrong-scheme"), true).flush();
        RawH2Client.Outcome o = c.await(1);
        assertThat(o.resetCode()).as(":scheme %s: stream reset", wrong).isEqualTo(PROTOCOL_ERROR);
        assertThat(gateway.stats().malformedHttp2Requests()).isEqualTo(malformedBefore + 1);
        c.headers(3, get(right, "/right-scheme"), true).flush();
        RawH2Client.Outcome ok = c.await(3);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.bodyText()).isEqualTo("GET /right-scheme\n");
        assertThat(upstream.requests()).noneMatch(r -> r.uri().equals("/wrong-scheme"));
    }

    @Test
    void httpsSchemeOnAClearTextConnectionIsResetWithProtocolError() throws Exception {
        try (RawH2Client c = RawH2Client.connect(address("clear"))) {
            assertMismatchIsResetAndTheConnectionGoesOn(c, "https", "http");
        }
    }

    @Test
    void httpSchemeOnATlsConnectionIsResetWithProtocolError() throws Exception {
        try (RawH2Client c = RawH2Client.connectTls(address("secure"))) {
            assertMismatchIsResetAndTheConnectionGoesOn(c, "http", "https");
        }
    }

    @Test
    void theSchemeIsComparedWithoutRegardToCase() throws Exception {
        try (RawH2Client c = RawH2Client.connectTls(address("secure"))) {
            c.headers(1, get("HTTPS", "/upper"), true).flush();
            assertThat(c.await(1).status()).isEqualTo(200);
        }
    }
}
