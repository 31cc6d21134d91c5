package dev.torii.internal.http2;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Http2Limits.Flood;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FloodLogTest {
    private final AtomicLong nanos = new AtomicLong();
    private final FloodLog log = new FloodLog(Duration.ofSeconds(60), 100, nanos::get);

    private static InetSocketAddress client(int i) {
        return new InetSocketAddress("10.0." + (i / 250) + "." + (1 + i % 250), 40_000);
    }

    @Test
    void aClientIsLoggedOncePerIntervalWhateverTheKind() {
        assertThat(log.report(Flood.SETTINGS, client(0), "x")).isTrue();
        assertThat(log.report(Flood.SETTINGS, client(0), "x")).isFalse();
        assertThat(log.report(Flood.PING, new InetSocketAddress("10.0.0.1", 1), "x"))
                .as("same address, another port and kind")
                .isFalse();
        assertThat(log.report(Flood.PING, client(1), "x")).as("another address").isTrue();
        nanos.addAndGet(Duration.ofSeconds(61).toNanos());
        assertThat(log.report(Flood.SETTINGS, client(0), "x"))
                .as("a new interval")
                .isTrue();
    }

    @Test
    void theMemoryOfClientsIsBounded() {
        for (int i = 0; i < 1_000; i++) {
            log.report(Flood.RAPID_RESET, client(i), "x");
        }
        assertThat(log.remembered()).isLessThanOrEqualTo(100);
    }
}
