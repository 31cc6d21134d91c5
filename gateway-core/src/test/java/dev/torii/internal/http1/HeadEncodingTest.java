package dev.torii.internal.http1;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Torii's header writing against Netty's encoder: the same messages must give the same bytes. */
class HeadEncodingTest {
    private static final String GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    private static final String HEAD = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";

    /** Writes the messages {@code response} makes through Netty's server codec and through Torii's; returns both. */
    private static String[] encodeBoth(String requests, Supplier<List<Object>> response) {
        String[] out = new String[2];
        EmbeddedChannel[] channels = {
            new EmbeddedChannel(new HttpServerCodec()),
            new EmbeddedChannel(new StrictServerCodec(new HttpDecoderConfig(), null))
        };
        for (int i = 0; i < 2; i++) {
            EmbeddedChannel ch = channels[i];
            ch.writeInbound(Unpooled.copiedBuffer(requests, StandardCharsets.US_ASCII));
            Object in;
            while ((in = ch.readInbound()) != null) {
                io.netty.util.ReferenceCountUtil.release(in);
            }
            for (Object msg : response.get()) {
                ch.writeOutbound(msg);
            }
            StringBuilder bytes = new StringBuilder();
            ByteBuf b;
            while ((b = ch.readOutbound()) != null) {
                bytes.append(b.toString(StandardCharsets.ISO_8859_1));
                b.release();
            }
            out[i] = bytes.toString();
            ch.finishAndReleaseAll();
        }
        return out;
    }

    private static void assertSameBytes(String requests, Supplier<List<Object>> response) {
        String[] both = encodeBoth(requests, response);
        assertThat(both[1]).isNotEmpty().isEqualTo(both[0]);
    }

    private static HttpResponse head(HttpResponseStatus status) {
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
        r.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain")
                .set("X-Mixed-Case", new StringBuilder("built"))
                .add("set-cookie", "a=1")
                .add("set-cookie", "b=2")
                .set("x-latin1", "caf\u00e9")
                .set(HttpHeaderNames.SERVER, HttpHeaderValues.KEEP_ALIVE);
        return r;
    }

    @Test
    void aResponseHeadWithContentLengthIsEncodedAsNettyEncodesIt() {
        assertSameBytes(GET, () -> {
            HttpResponse r = head(HttpResponseStatus.OK);
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 3).set(HttpHeaderNames.CONNECTION, "close");
            return List.of(r, new DefaultLastHttpContent(Unpooled.copiedBuffer("ok\n", StandardCharsets.US_ASCII)));
        });
    }

    @Test
    void aChunkedResponseWithTrailersIsEncodedAsNettyEncodesIt() {
        assertSameBytes(GET, () -> {
            HttpResponse r = head(HttpResponseStatus.OK);
            r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            LastHttpContent last = new DefaultLastHttpContent(Unpooled.copiedBuffer("end", StandardCharsets.US_ASCII));
            last.trailingHeaders().set("x-checksum", "abc").set("x-count", 2);
            return List.of(r, new DefaultHttpContent(Unpooled.copiedBuffer("part", StandardCharsets.US_ASCII)), last);
        });
    }

    @Test
    void aResponseToHeadHasItsHeadOnlyAsInNetty() {
        assertSameBytes(HEAD, () -> {
            HttpResponse r = head(HttpResponseStatus.OK);
            r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            return List.of(r, LastHttpContent.EMPTY_LAST_CONTENT);
        });
    }

    @Test
    void informationalAndNoContentResponsesLoseTheirFramingFieldsAsInNetty() {
        assertSameBytes(GET, () -> {
            HttpResponse early = head(HttpResponseStatus.EARLY_HINTS);
            early.headers().set(HttpHeaderNames.CONTENT_LENGTH, 5);
            HttpResponse none = head(HttpResponseStatus.NO_CONTENT);
            none.headers().set(HttpHeaderNames.CONTENT_LENGTH, 5);
            return List.of(
                    new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE),
                    early,
                    LastHttpContent.EMPTY_LAST_CONTENT,
                    none,
                    LastHttpContent.EMPTY_LAST_CONTENT);
        });
    }

    @Test
    void aFullResponseWithASmallBodyIsOneBufferAsInNetty() {
        assertSameBytes(GET, () -> {
            var r = new DefaultFullHttpResponse(
                    HttpVersion.HTTP_1_1,
                    HttpResponseStatus.NOT_FOUND,
                    Unpooled.copiedBuffer("no route\n", StandardCharsets.US_ASCII));
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 9).set(HttpHeaderNames.CONNECTION, "keep-alive");
            return List.of(r);
        });
    }

    @Test
    void aHeadLargerThanTheScratchArrayIsEncodedAsNettyEncodesIt() {
        String big = "v".repeat(9000);
        assertSameBytes(GET, () -> {
            HttpResponse r = head(HttpResponseStatus.OK);
            for (int i = 0; i < 12; i++) {
                r.headers().add("x-big-" + i, big);
            }
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
            return List.of(r, LastHttpContent.EMPTY_LAST_CONTENT);
        });
    }

    @Test
    void manyHeadersGrowTheScratchArrayWithoutChangingTheBytes() {
        assertSameBytes(GET, () -> {
            HttpResponse r = head(HttpResponseStatus.OK);
            for (int i = 0; i < 200; i++) {
                r.headers().add("x-field-" + i, "value-" + i);
            }
            r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
            return List.of(r, LastHttpContent.EMPTY_LAST_CONTENT);
        });
    }

    @Test
    void aCharacterAboveLatin1IsWrittenAsAQuestionMarkAsInNetty() {
        ByteBuf buf = Unpooled.buffer();
        var headers = new io.netty.handler.codec.http.DefaultHttpHeaders(false);
        headers.add("x-name", "a\u20acb");
        HeadEncoding.writeHeaders(headers, buf);
        assertThat(buf.toString(StandardCharsets.ISO_8859_1)).isEqualTo("x-name: a?b\r\n");
        buf.release();
    }
}
