package dev.torii.internal.http2;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link H2ResponseHeaders}, the stream codec's response-head conversion, against Netty's: equal field for field, in order. */
class H2ResponseHeadersTest {

    private static HttpResponse response(String... namesAndValues) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        for (int i = 0; i < namesAndValues.length; i += 2) {
            r.headers().add(namesAndValues[i], namesAndValues[i + 1]);
        }
        return r;
    }

    private static List<String> fields(Http2Headers h) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            out.add(e.getKey() + ": " + e.getValue());
        }
        return out;
    }

    private static void assertSameAsNetty(HttpResponse r) {
        assertThat(fields(H2ResponseHeaders.of(r))).isEqualTo(fields(HttpConversionUtil.toHttp2Headers(r, false)));
    }

    @Test
    void aCommonHeadHasItsNamesInLowerCaseAfterTheStatus() {
        HttpResponse r = response(
                "Server",
                "nginx",
                "Date",
                "Thu, 03 Dec 2026 16:00:00 GMT",
                "Content-Type",
                "text/plain",
                "Content-Length",
                "3",
                "ETag",
                "\"x\"",
                "X-Custom-Thing",
                "1",
                "x-lower",
                "2",
                "Set-Cookie",
                "a=1",
                "Set-Cookie",
                "b=2");
        assertThat(fields(H2ResponseHeaders.of(r)))
                .containsExactly(
                        ":status: 200",
                        "server: nginx",
                        "date: Thu, 03 Dec 2026 16:00:00 GMT",
                        "content-type: text/plain",
                        "content-length: 3",
                        "etag: \"x\"",
                        "x-custom-thing: 1",
                        "x-lower: 2",
                        "set-cookie: a=1",
                        "set-cookie: b=2");
        assertSameAsNetty(r);
    }

    @Test
    void theConnectionCloseOfEveryStreamAndNettysStreamIdAreDroppedWithoutNettysConverter() {
        HttpResponse r = response("Server", "nginx", "Connection", "close", "Content-Length", "3");
        r.headers().add(HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text(), "5");
        Http2Headers h = H2ResponseHeaders.of(r);
        assertThat(fields(h)).containsExactly(":status: 200", "server: nginx", "content-length: 3");
        assertSameAsNetty(r);
        // The common names are the shared constants, not copies: the head did not go through Netty's converter.
        List<CharSequence> names = new ArrayList<>();
        h.forEach(e -> names.add(e.getKey()));
        assertThat(names.get(1)).isSameAs(HttpHeaderNames.SERVER);
        assertThat(names.get(2)).isSameAs(HttpHeaderNames.CONTENT_LENGTH);
        assertSameAsNetty(response("Connection", "Keep-Alive", "Keep-Alive", "timeout=5", "Age", "1"));
        assertSameAsNetty(response("Connection", "close", "close", "x", "Age", "1"));
        assertSameAsNetty(response("close", "x", "Connection", "close", "Age", "1"));
    }

    @Test
    void namesThatAreAsciiStringsAreLowerCasedToo() {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND);
        r.headers().add(AsciiString.of("Content-Type"), "text/html");
        r.headers().add(AsciiString.of("grpc-status"), "0");
        assertThat(fields(H2ResponseHeaders.of(r)))
                .containsExactly(":status: 404", "content-type: text/html", "grpc-status: 0");
        assertSameAsNetty(r);
    }

    @Test
    void connectionSpecificFieldsAndWhatConnectionNamesAreDropped() {
        assertSameAsNetty(response(
                "Connection",
                "keep-alive, X-Hop",
                "Keep-Alive",
                "timeout=5",
                "X-Hop",
                "1",
                "Transfer-Encoding",
                "chunked",
                "Upgrade",
                "h2c",
                "Proxy-Connection",
                "close",
                "Host",
                "a",
                "X-Kept",
                "2"));
        assertThat(fields(H2ResponseHeaders.of(response("Connection", "X-Hop", "X-Hop", "1", "X-Kept", "2"))))
                .containsExactly(":status: 200", "x-kept: 2");
    }

    @Test
    void teCookieAndNettyExtensionFieldsAreConvertedAsNettyDoes() {
        assertSameAsNetty(response("TE", "gzip, trailers", "Server", "s"));
        assertSameAsNetty(response("te", "gzip"));
        assertSameAsNetty(response("Cookie", "a=1; b=2", "Vary", "Accept"));
        assertSameAsNetty(response("x-http2-stream-id", "3", "X-Http2-Scheme", "https", "Age", "1"));
        assertThat(fields(H2ResponseHeaders.of(response("x-http2-stream-id", "3", "Age", "1"))))
                .containsExactly(":status: 200", "age: 1");
    }

    @Test
    void namesDecodedAsAsciiStringsAreConvertedToTheSharedLowerCaseNames() {
        // Netty's HTTP/1.1 decoder (an upstream's response head) gives names as AsciiString, in the upstream's case.
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers()
                .add(new AsciiString("Content-Type"), "text/plain")
                .add(new AsciiString("content-length"), "3")
                .add(new AsciiString("ETag"), "\"x\"")
                .add(new AsciiString("X-Rare-Name"), "1")
                .add(new AsciiString("Connection"), "close");
        assertSameAsNetty(r);
        List<CharSequence> names = new ArrayList<>();
        H2ResponseHeaders.of(r).forEach(e -> names.add(e.getKey()));
        assertThat(names.get(1)).as("no copy of a common name").isSameAs(HttpHeaderNames.CONTENT_TYPE);
        assertThat(names.get(2)).isSameAs(HttpHeaderNames.CONTENT_LENGTH);
        assertThat(names.get(3)).isSameAs(HttpHeaderNames.ETAG);
        assertThat(names.get(4)).hasToString("x-rare-name");
    }
}
