package dev.torii.internal.http2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Http2Limits;
import dev.torii.Limits;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import java.lang.reflect.Field;
import org.junit.jupiter.api.Test;

/** The frame codec {@link Http2Connections} builds for each client connection. */
class Http2ConnectionsTest {

    @Test
    void theCodecSharesBytesUniformlyAndStillAnnouncesTheConfiguredSettings() throws Exception {
        Http2Limits h2 = Http2Limits.builder()
                .maxConcurrentStreams(7)
                .initialStreamWindow(123_456)
                .maxFrameSize(20_000)
                .build();
        Http2FrameCodec codec = Http2Connections.frameCodec(Limits.defaults(), h2);
        assertThat(codec.connection().isServer()).isTrue();

        // No priority tree per connection: the uniform distributor (see Http2Connections.idleLightConnection).
        var flow =
                (DefaultHttp2RemoteFlowController) codec.connection().remote().flowController();
        Field distributor = DefaultHttp2RemoteFlowController.class.getDeclaredField("streamByteDistributor");
        distributor.setAccessible(true);
        assertThat(distributor.get(flow)).isInstanceOf(UniformStreamByteDistributor.class);

        // The server preface is the SETTINGS frame with the configured values.
        EmbeddedChannel ch = new EmbeddedChannel(codec);
        try {
            ByteBuf preface = ch.readOutbound();
            try {
                assertThat(preface.getByte(3)).as("frame type SETTINGS").isEqualTo((byte) 4);
                assertThat(settingValue(preface, 0x3))
                        .as("MAX_CONCURRENT_STREAMS")
                        .isEqualTo(7);
                assertThat(settingValue(preface, 0x4)).as("INITIAL_WINDOW_SIZE").isEqualTo(123_456);
                assertThat(settingValue(preface, 0x5)).as("MAX_FRAME_SIZE").isEqualTo(20_000);
            } finally {
                preface.release();
            }
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    /** The value of setting {@code id} in the SETTINGS frame at the start of {@code frame}, or -1. */
    private static long settingValue(ByteBuf frame, int id) {
        int length = frame.getUnsignedMedium(0);
        for (int at = 9; at + 6 <= 9 + length; at += 6) {
            if (frame.getUnsignedShort(at) == id) {
                return frame.getUnsignedInt(at + 2);
            }
        }
        return -1;
    }
}
