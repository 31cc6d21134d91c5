package dev.torii.internal.http1;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The upstream codec against Netty's client codec: the same requests give the same bytes, HEAD is paired. */
class UpstreamCodecTest {
    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    private static String encode(EmbeddedChannel ch, List<Object> messages) {
        for (Object msg : messages) {
            ch.writeOutbound(msg);
        }
        StringBuilder bytes = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            bytes.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return bytes.toString();
    }

    private static void assertSameBytes(Supplier<List<Object>> request) {
        EmbeddedChannel netty = new EmbeddedChannel(new HttpClientCodec());
        EmbeddedChannel torii = new EmbeddedChannel(new UpstreamCodec(new HttpDecoderConfig()));
        String expected = encode(netty, request.get());
        assertThat(encode(torii, request.get())).isNotEmpty().isEqualTo(expected);
        netty.finishAndReleaseAll();
        torii.finishAndReleaseAll();
    }

    private static HttpRequest head(HttpMethod method, String uri) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
        r.headers()
                .set(HttpHeaderNames.HOST, "backend:8080")
                .set("X-Forwarded-For", "127.0.0.1")
                .add("cookie", "a=1")
                .set("x-latin1", "caf\u00e9")
                .set("x-built", new StringBuilder("sb"))
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        return r;
    }

    @Test
    void aBodilessRequestIsEncodedAsNettyEncodesIt() {
        assertSameBytes(() -> List.of(head(HttpMethod.GET, "/a/b?c=d"), LastHttpContent.EMPTY_LAST_CONTENT));
    }

    @Test
    void aChunkedRequestWithTrailersIsEncodedAsNettyEncodesIt() {
        assertSameBytes(() -> {
            HttpRequest r = head(HttpMethod.POST, "/upload");
            r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            LastHttpContent last = new DefaultLastHttpContent(ascii("tail"));
            last.trailingHeaders().set("x-sum", "42");
            return List.of(r, new DefaultHttpContent(ascii("first")), last);
        });
    }

    @Test
    void aRequestWithContentLengthIsEncodedAsNettyEncodesIt() {
        assertSameBytes(() -> {
            HttpRequest r = head(HttpMethod.PUT, "/x");
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 5);
            return List.of(r, new DefaultLastHttpContent(ascii("hello")));
        });
    }

    @Test
    void targetsOutsideTheFastPathAreEncodedAsNettyEncodesThem() {
        for (String uri : List.of("http://h.test?q=1", "", "/caf\u00e9", "*", "/" + "p".repeat(5000))) {
            assertSameBytes(() -> List.of(head(HttpMethod.OPTIONS, uri), LastHttpContent.EMPTY_LAST_CONTENT));
        }
    }

    private static List<Object> decode(EmbeddedChannel ch, String bytes) {
        ch.writeInbound(ascii(bytes));
        List<Object> out = new ArrayList<>();
        Object o;
        while ((o = ch.readInbound()) != null) {
            out.add(o);
        }
        return out;
    }

    @Test
    void theResponseToHeadHasNoBodyAndTheNextResponseIsDecodedWhole() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamCodec(new HttpDecoderConfig()));
        encode(ch, List.of(head(HttpMethod.HEAD, "/"), LastHttpContent.EMPTY_LAST_CONTENT));
        encode(ch, List.of(head(HttpMethod.GET, "/"), LastHttpContent.EMPTY_LAST_CONTENT));
        List<Object> out = decode(
                ch,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        assertThat(out).hasSize(4);
        assertThat(out.get(0)).isInstanceOf(HttpResponse.class);
        assertThat(((LastHttpContent) out.get(1)).content().readableBytes()).isZero();
        assertThat(((HttpResponse) out.get(2)).decoderResult().isSuccess()).isTrue();
        assertThat(((HttpContent) out.get(3)).content().toString(StandardCharsets.US_ASCII))
                .isEqualTo("ok\n");
        out.forEach(ReferenceCountUtil::release);
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void anInformationalResponseDoesNotTakeTheMethodOfTheHeadRequest() {
        EmbeddedChannel ch = new EmbeddedChannel(new UpstreamCodec(new HttpDecoderConfig()));
        encode(ch, List.of(head(HttpMethod.HEAD, "/"), LastHttpContent.EMPTY_LAST_CONTENT));
        List<Object> out = decode(
                ch, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        assertThat(out).hasSize(4);
        assertThat(((HttpResponse) out.get(0)).status().code()).isEqualTo(103);
        assertThat(((HttpResponse) out.get(2)).status().code()).isEqualTo(200);
        assertThat(out.get(3)).isInstanceOf(LastHttpContent.class);
        out.forEach(ReferenceCountUtil::release);
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }
}
