package dev.torii.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Proves the leak check works: a buffer dropped without {@code release()} is reported. Each test takes its own
 * deliberate leak out of the record (by a unique touch hint), so the class-level check still passes.
 */
class NettyLeakListenerTest {

    @Test
    void aBufferDroppedWithoutReleaseIsReportedWithWhereItWasTouched() {
        String marker = "deliberate-leak-" + UUID.randomUUID();
        allocateAndDrop(marker, false);

        assertThat(NettyLeakListener.collect(leak -> leak.contains(marker)))
                .singleElement()
                .asString()
                .startsWith("LEAK: ByteBuf.release() was not called")
                .contains(marker);
    }

    @Test
    void aReleasedBufferIsNotReported() {
        String marker = "released-" + UUID.randomUUID();
        allocateAndDrop(marker, true);

        assertThat(NettyLeakListener.collect(leak -> leak.contains(marker))).isEmpty();
    }

    private static void allocateAndDrop(String marker, boolean release) {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.heapBuffer(16);
        buf.touch(marker).writeInt(42);
        if (release) {
            buf.release();
        }
    }
}
