package dev.torii.internal.http1;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

class RequestChecksTest {
    private static HttpRequest request(HttpVersion version, String... fields) {
        HttpRequest r = new DefaultHttpRequest(version, HttpMethod.POST, "/");
        for (int i = 0; i < fields.length; i += 2) {
            r.headers().add(fields[i], fields[i + 1]);
        }
        return r;
    }

    private static String problem(String... fields) {
        return RequestChecks.problem(request(HttpVersion.HTTP_1_1, fields));
    }

    @Test
    void aPlainRequestPasses() {
        assertThat(problem("Host", "example.com", "Content-Length", "12")).isNull();
        assertThat(problem("host", "example.com:8080", "transfer-encoding", "Chunked "))
                .isNull();
        assertThat(RequestChecks.problem(request(HttpVersion.HTTP_1_0)))
                .as("HTTP/1.0 needs no Host")
                .isNull();
    }

    @Test
    void framingThatTwoParsersCouldReadDifferentlyIsRefused() {
        assertThat(problem("Host", "h", "Transfer-Encoding", "chunked", "content-length", "3"))
                .isEqualTo("both Transfer-Encoding and Content-Length");
        assertThat(RequestChecks.problem(request(HttpVersion.HTTP_1_0, "Transfer-Encoding", "chunked")))
                .isEqualTo("Transfer-Encoding in an HTTP/1.0 request");
        assertThat(problem("Host", "h", "Transfer-Encoding", "chunked", "TRANSFER-ENCODING", "chunked"))
                .isEqualTo("Transfer-Encoding 'chunked, chunked' (expected: chunked)");
        assertThat(problem("Host", "h", "Transfer-Encoding", "gzip"))
                .isEqualTo("Transfer-Encoding 'gzip' (expected: chunked)");
        assertThat(problem("Host", "h", "Content-Length", "3", "Content-Length", "3"))
                .isEqualTo("more than one Content-Length");
        assertThat(problem("Host", "h", "Content-Length", "+3")).isEqualTo("Content-Length '+3' (expected: digits)");
    }

    @Test
    void theHixieHandshakeAndBadHostsAreRefused() {
        assertThat(problem("Host", "h", "Sec-WebSocket-Key1", "1")).startsWith("obsolete hixie-76");
        assertThat(problem("Host", "h", "sec-websocket-key2", "1")).startsWith("obsolete hixie-76");
        assertThat(problem("Host", "a", "HOST", "b")).isEqualTo("more than one Host");
        assertThat(problem()).isEqualTo("no Host header in an HTTP/1.1 request");
        assertThat(problem("Host", "a b")).isEqualTo("Host 'a b' is not a valid authority");
    }

    @Test
    void underscoredFieldsAreDroppedWhateverTheirCaseAndOthersStay() {
        HttpHeaders h = new DefaultHttpHeaders();
        h.add("X_Forwarded_For", "1.2.3.4");
        h.add("x_forwarded_for", "5.6.7.8");
        h.add("X-Real", "1");
        h.add("a_b", "2");
        RequestChecks.dropUnderscoredHeaders(h);
        assertThat(h.names()).containsExactly("X-Real");
    }
}
