package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The request line and header names that are refused or dropped before anything is forwarded, over raw sockets. */
class StrictRequestLineTest {
    private TestUpstream upstream;
    private Gateway gateway;

    private void start(Limits limits) {
        upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE);
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .limits(limits)
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

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private int status(String request) throws Exception {
        try (var client = new RawClient(gateway.address("web"), Duration.ofSeconds(5))) {
            return client.write(request).readResponse().status();
        }
    }

    @Test
    void aVersionOtherThanHttp10Or11IsAnswered505() throws Exception {
        start(Limits.defaults());
        assertThat(status("GET / HTTP/9.9\r\nHost: a.test\r\n\r\n")).isEqualTo(505);
        assertThat(status("GET / HTTP/1.2\r\nHost: a.test\r\n\r\n")).isEqualTo(505);
        assertThat(status("GET / HTTP/2.0\r\nHost: a.test\r\n\r\n")).isEqualTo(505);
        assertThat(status("GET / HTTP/1.0\r\n\r\n")).isEqualTo(200);
        assertThat(status("GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"))
                .isEqualTo(200);
        assertThat(upstream.requests()).hasSize(2);
    }

    @Test
    void aFragmentInTheTargetIsRefused() throws Exception {
        start(Limits.defaults());
        assertThat(status("GET /a#frag HTTP/1.1\r\nHost: a.test\r\n\r\n")).isEqualTo(400);
        assertThat(status("GET http://a.test/a?x#frag HTTP/1.1\r\nHost: a.test\r\n\r\n"))
                .isEqualTo(400);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void doubledSpacesInTheRequestLineAreRefused() throws Exception {
        start(Limits.defaults());
        assertThat(status("GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n")).isEqualTo(400);
        assertThat(status("GET /  HTTP/1.1\r\nHost: a.test\r\n\r\n")).isEqualTo(400);
        assertThat(status("GET / HTTP/1.1\r\nHost: a.test\r\nX-Two:  spaces\r\nConnection: close\r\n\r\n"))
                .isEqualTo(200);
        assertThat(upstream.requests()).hasSize(1);
    }

    @Test
    void userinfoInAnAbsoluteFormTargetIsRefused() throws Exception {
        start(Limits.defaults());
        assertThat(status("GET http://user:pw@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"))
                .isEqualTo(400);
        assertThat(status("GET http://evil@a.test HTTP/1.1\r\nHost: a.test\r\n\r\n"))
                .isEqualTo(400);
        assertThat(status("GET http://a.test/x@y HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"))
                .isEqualTo(200);
        assertThat(upstream.requests()).singleElement().satisfies(r -> assertThat(r.uri())
                .isEqualTo("/x@y"));
    }

    @Test
    void headerNamesWithAnUnderscoreAreDroppedByDefault() throws Exception {
        start(Limits.defaults());
        assertThat(status("GET / HTTP/1.1\r\nHost: a.test\r\nX_Forwarded_For: 10.9.9.9\r\nX-Kept: 1\r\n"
                        + "Connection: close\r\n\r\n"))
                .isEqualTo(200);
        TestUpstream.RecordedRequest r = upstream.awaitRequest();
        assertThat(r.headerNames()).noneMatch(n -> n.contains("_"));
        assertThat(r.header("x-kept")).isEqualTo("1");
    }

    @Test
    void hostAndOtherForbiddenFieldsInChunkedTrailersAreNotForwarded() throws Exception {
        start(Limits.defaults());
        assertThat(status("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                        + "3\r\nabc\r\n0\r\nHost: evil.test\r\nContent-Length: 9\r\nX_Sneaky: 1\r\n"
                        + "X-Checksum: 42\r\n\r\n"))
                .isEqualTo(200);
        TestUpstream.RecordedRequest r = upstream.awaitRequest();
        assertThat(r.header("host")).isEqualTo("a.test");
        assertThat(r.trailer("x-checksum")).isEqualTo("42");
        assertThat(r.trailers())
                .extracting(e -> e.getKey().toLowerCase(java.util.Locale.ROOT))
                .containsExactly("x-checksum");
    }

    @Test
    void headerNamesWithAnUnderscoreAreForwardedWhenAllowed() throws Exception {
        start(Limits.builder().underscoresInHeaders(true).build());
        assertThat(status("GET / HTTP/1.1\r\nHost: a.test\r\nX_Custom: 1\r\nConnection: close\r\n\r\n"))
                .isEqualTo(200);
        assertThat(upstream.awaitRequest().header("x_custom")).isEqualTo("1");
    }
}
