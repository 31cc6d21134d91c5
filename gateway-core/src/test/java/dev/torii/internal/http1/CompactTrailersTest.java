package dev.torii.internal.http1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class CompactTrailersTest {
    @Test
    void trailersKeepNettysValidationAndHoldAnyNumberOfFields() {
        HttpHeaders t = CompactTrailers.FACTORY.newHeaders();
        assertThatThrownBy(() -> t.add("content-length", "1"))
                .as("a framing field is refused in trailers, as by Netty's own trailers")
                .isInstanceOf(IllegalArgumentException.class);
        for (int i = 0; i < 20; i++) {
            t.add("x-" + i, Integer.toString(i));
        }
        assertThat(t.size()).isEqualTo(20);
        assertThat(t.get("X-7")).isEqualTo("7");
    }

    @Test
    void aDecoderConfigWithItsOwnTrailersFactoryKeepsIt() {
        var own = DefaultHttpHeadersFactory.trailersFactory().withValidation(false);
        HttpDecoderConfig config = new HttpDecoderConfig().setTrailersFactory(own);
        assertThat(CompactTrailers.applyTo(config).getTrailersFactory()).isSameAs(own);
        assertThat(CompactTrailers.applyTo(new HttpDecoderConfig()).getTrailersFactory())
                .isSameAs(CompactTrailers.FACTORY);
    }

    @Test
    void decodersMakeTheLastPartOfABodyWithCompactTrailers() {
        EmbeddedChannel upstream =
                new EmbeddedChannel(new HttpResponseDecoder(CompactTrailers.applyTo(new HttpDecoderConfig())));
        upstream.writeInbound(Unpooled.copiedBuffer(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\nX-Sum: 1\r\n\r\n",
                StandardCharsets.US_ASCII));
        Object head = upstream.readInbound();
        assertThat(head).isNotNull();
        Object part;
        LastHttpContent last = null;
        while ((part = upstream.readInbound()) != null) {
            if (part instanceof LastHttpContent l) {
                last = l;
            } else {
                io.netty.util.ReferenceCountUtil.release(part);
            }
        }
        assertThat(last).isNotNull();
        assertThat(last.trailingHeaders().get("x-sum")).isEqualTo("1");
        assertThat(last.trailingHeaders().getClass().getEnclosingClass()).isEqualTo(CompactTrailers.class);
        last.release();

        EmbeddedChannel client = new EmbeddedChannel(new StrictServerCodec(new HttpDecoderConfig(), null));
        client.writeInbound(Unpooled.copiedBuffer(
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", StandardCharsets.US_ASCII));
        HttpRequest request = client.readInbound();
        assertThat(request.uri()).isEqualTo("/");
        LastHttpContent body = client.readInbound();
        assertThat(body.trailingHeaders().getClass().getEnclosingClass()).isEqualTo(CompactTrailers.class);
        body.release();
        client.finishAndReleaseAll();
        upstream.finishAndReleaseAll();
    }
}
