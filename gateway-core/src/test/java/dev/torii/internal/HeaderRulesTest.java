package dev.torii.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Forwarding;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;
import org.junit.jupiter.api.Test;

class HeaderRulesTest {
    private static final Forwarding FORWARDING = Forwarding.defaults();

    private static HttpRequest request(String... fields) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/");
        for (int i = 0; i < fields.length; i += 2) {
            r.headers().add(fields[i], fields[i + 1]);
        }
        return r;
    }

    private static HttpResponse response(String... fields) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        for (int i = 0; i < fields.length; i += 2) {
            r.headers().add(fields[i], fields[i + 1]);
        }
        return r;
    }

    private static void prepare(HttpRequest r, boolean trusted) {
        HeaderRules.prepareUpstreamRequest(r, false, "192.0.2.7", trusted, false, FORWARDING, "1.1 torii");
    }

    @Test
    void everyHopByHopFieldGoesWhateverItsCaseAndTheFieldsConnectionNamesGoWithThem() {
        HttpResponse r = response(
                "CONNECTION", "keep-alive, X-Private",
                "Keep-Alive", "timeout=5",
                "PROXY-connection", "keep-alive",
                "te", "trailers",
                "Upgrade", "h2c",
                "Transfer-Encoding", "chunked",
                "x-private", "secret",
                "Server", "nginx");
        HeaderRules.Framing framing = HeaderRules.prepareClientResponse(r, HttpMethod.GET, HttpVersion.HTTP_1_1);
        HttpHeaders h = r.headers();
        assertThat(h.names()).containsExactlyInAnyOrder("Server", "transfer-encoding");
        assertThat(h.get("transfer-encoding")).as("re-declared by the proxy").isEqualTo("chunked");
        assertThat(framing).isEqualTo(HeaderRules.Framing.CHUNKED);
    }

    @Test
    void aSingleConnectionKeepAliveGoesWithTheKeepAliveFieldAndNothingElse() {
        HttpResponse r = response(
                "Connection", "Keep-Alive", "Keep-Alive", "timeout=5", "Content-Length", "3", "Server", "nginx");
        HeaderRules.prepareClientResponse(r, HttpMethod.GET, HttpVersion.HTTP_1_1);
        assertThat(r.headers().names()).containsExactlyInAnyOrder("Content-Length", "Server");
    }

    @Test
    void everyConnectionFieldCountsNotOnlyTheFirst() {
        HttpResponse r = response(
                "Connection", "keep-alive", "connection", "X-Hop", "X-Hop", "1", "Close", "2", "Content-Length", "3");
        HeaderRules.prepareClientResponse(r, HttpMethod.GET, HttpVersion.HTTP_1_1);
        assertThat(r.headers().names()).containsExactlyInAnyOrder("Close", "Content-Length");

        HttpResponse closing = response("Connection", "close", "Close", "2", "Content-Length", "3");
        HeaderRules.prepareClientResponse(closing, HttpMethod.GET, HttpVersion.HTTP_1_1);
        assertThat(closing.headers().names())
                .as("a field that Connection names is hop-by-hop, even one called Close")
                .containsExactly("Content-Length");
    }

    @Test
    void connectionNeverRemovesTheFramingFieldsOrHost() {
        HttpResponse r = response("Connection", "Content-Length, Host, close", "Content-Length", "3", "Host", "h");
        HeaderRules.Framing framing = HeaderRules.prepareClientResponse(r, HttpMethod.GET, HttpVersion.HTTP_1_1);
        assertThat(r.headers().get("content-length")).isEqualTo("3");
        assertThat(r.headers().get("host")).isEqualTo("h");
        assertThat(r.headers().contains("connection")).isFalse();
        assertThat(framing).as("the upstream's length is kept").isEqualTo(HeaderRules.Framing.AS_IS);
    }

    @Test
    void aResponseWithoutLengthToAnHttp10ClientIsDelimitedByClose() {
        HttpResponse r = response("Server", "x");
        assertThat(HeaderRules.prepareClientResponse(r, HttpMethod.GET, HttpVersion.HTTP_1_0))
                .isEqualTo(HeaderRules.Framing.CLOSE);
        assertThat(r.headers().contains("transfer-encoding")).isFalse();
    }

    @Test
    void anUntrustedClientsForwardingFieldsAreReplacedOnceAndTheRequestGetsVia() {
        HttpRequest r = request(
                "Host", "example.com",
                "X-Forwarded-For", "10.9.9.9",
                "x-forwarded-for", "10.8.8.8",
                "X-Forwarded-Proto", "https",
                "X-Forwarded-Host", "evil.example",
                "Expect", "100-continue",
                "Via", "1.0 edge");
        prepare(r, false);
        HttpHeaders h = r.headers();
        assertThat(h.getAll("x-forwarded-for")).containsExactly("192.0.2.7");
        assertThat(h.getAll("x-forwarded-proto")).containsExactly("http");
        assertThat(h.getAll("x-forwarded-host")).containsExactly("example.com");
        assertThat(h.getAll("via")).containsExactly("1.0 edge, 1.1 torii");
        assertThat(h.contains("expect")).isFalse();
    }

    @Test
    void aTrustedClientsForwardingFieldsAreKeptAndTheClientIsAppended() {
        HttpRequest r = request(
                "Host", "example.com",
                "X-Forwarded-For", "10.9.9.9",
                "X-Forwarded-For", "10.8.8.8",
                "X-Forwarded-Proto", "https",
                "X-Forwarded-Host", "front.example");
        prepare(r, true);
        HttpHeaders h = r.headers();
        assertThat(h.getAll("x-forwarded-for")).containsExactly("10.9.9.9, 10.8.8.8, 192.0.2.7");
        assertThat(h.getAll("x-forwarded-proto")).containsExactly("https");
        assertThat(h.getAll("x-forwarded-host")).containsExactly("front.example");
    }

    @Test
    void forwardingFieldsAreAddedOnceToARequestThatHadNone() {
        HttpRequest r = request("Host", "example.com", "Connection", "keep-alive");
        prepare(r, false);
        HttpHeaders h = r.headers();
        assertThat(h.getAll("x-forwarded-for")).containsExactly("192.0.2.7");
        assertThat(h.getAll("x-forwarded-proto")).containsExactly("http");
        assertThat(h.getAll("x-forwarded-host")).containsExactly("example.com");
        assertThat(h.getAll("via")).containsExactly("1.1 torii");
        assertThat(h.contains("connection")).isFalse();
    }

    @Test
    void aForwardingFieldNamedByConnectionIsRemovedThenSetAgain() {
        HttpRequest r = request(
                "Host",
                "example.com",
                "Connection",
                "X-Forwarded-For, Via",
                "X-Forwarded-For",
                "1.2.3.4",
                "Via",
                "1.1 a");
        prepare(r, true);
        HttpHeaders h = r.headers();
        assertThat(h.getAll("x-forwarded-for")).containsExactly("192.0.2.7");
        assertThat(h.getAll("via")).containsExactly("1.1 torii");
    }

    @Test
    void aClientsForwardedHostWithoutAHostIsDropped() {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET, "/");
        r.headers().add("X-Forwarded-Host", "evil.example");
        prepare(r, false);
        assertThat(r.headers().contains("x-forwarded-host")).isFalse();
        assertThat(r.headers().get("via")).isEqualTo("1.0 torii");
        assertThat(r.protocolVersion()).isEqualTo(HttpVersion.HTTP_1_1);
    }

    @Test
    void aChunkedRequestIsReDeclaredChunkedAfterTheHopByHopFieldsGo() {
        HttpRequest r = request("Host", "h", "Transfer-Encoding", "chunked", "TE", "trailers");
        HeaderRules.prepareUpstreamRequest(r, true, "192.0.2.7", false, true, FORWARDING, "1.1 torii");
        assertThat(r.headers().getAll("transfer-encoding")).isEqualTo(List.of("chunked"));
        assertThat(r.headers().contains("te")).isFalse();
        assertThat(r.headers().get("x-forwarded-proto")).isEqualTo("https");
    }
}
