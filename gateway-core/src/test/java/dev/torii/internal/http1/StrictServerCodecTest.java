package dev.torii.internal.http1;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StrictServerCodecTest {
    private static final String UPGRADE =
            "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    private static StrictServerCodec codec() {
        return new StrictServerCodec(new HttpDecoderConfig(), null);
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    @Test
    void bytesAfterAWebSocketUpgradeRequestWaitUntilResumed() {
        StrictServerCodec codec = codec();
        EmbeddedChannel ch = new EmbeddedChannel(codec);
        ch.writeInbound(ascii(UPGRADE + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
        HttpRequest upgrade = ch.readInbound();
        assertThat(upgrade.uri()).isEqualTo("/chat");
        LastHttpContent end = ch.readInbound();
        end.release();
        Object pipelined = ch.readInbound();
        assertThat(pipelined).as("the pipelined request is not decoded yet").isNull();
        assertThat(codec.holding()).isTrue();

        codec.resume();
        HttpRequest next = ch.readInbound();
        assertThat(next.uri()).isEqualTo("/next");
        ((LastHttpContent) ch.readInbound()).release();
        assertThat(codec.holding()).isFalse();
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void removingTheCodecAfterAnUpgradeHandsTheHeldBytesOnUndecoded() {
        StrictServerCodec codec = codec();
        EmbeddedChannel ch = new EmbeddedChannel(codec);
        byte[] frame = {(byte) 0x81, (byte) 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1};
        ByteBuf in = ascii(UPGRADE);
        in.writeBytes(frame);
        ch.writeInbound(in);
        ((HttpRequest) ch.readInbound()).headers();
        ((LastHttpContent) ch.readInbound()).release();
        ch.pipeline().remove(codec);
        ByteBuf handedOn = ch.readInbound();
        byte[] got = new byte[handedOn.readableBytes()];
        handedOn.readBytes(got);
        handedOn.release();
        assertThat(got).isEqualTo(frame);
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void otherRequestsAreDecodedStraightOn() {
        EmbeddedChannel ch = new EmbeddedChannel(codec());
        ch.writeInbound(ascii("GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
                + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
        assertThat(((HttpRequest) ch.readInbound()).uri()).isEqualTo("/a");
        ((LastHttpContent) ch.readInbound()).release();
        assertThat(((HttpRequest) ch.readInbound()).uri()).isEqualTo("/b");
        ((LastHttpContent) ch.readInbound()).release();
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }
}
