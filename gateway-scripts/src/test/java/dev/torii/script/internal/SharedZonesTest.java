package dev.torii.script.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.script.SharedDict;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code incr} updates counters in place: exact under concurrency, TTL kept, numbers set by {@code set} included. */
class SharedZonesTest {
    private final SharedDict zone = new SharedZones(Map.of(), 1000, 4, TimeSource.of(InstantSource.system())).zone("z");

    @Test
    void concurrentIncrementsAreAllCounted() throws Exception {
        var threads = new ArrayList<Thread>();
        for (int t = 0; t < 4; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 20_000; i++) {
                    zone.incr("hits", 1, Duration.ofMinutes(5));
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(zone.get("hits")).isEqualTo(80_000.0);
    }

    @Test
    void aNumberStoredWithSetIsIncrementedAndOtherValuesAreRefused() {
        zone.set("n", 5.0, null);
        assertThat(zone.incr("n", 2, null)).isEqualTo(7.0);
        assertThat(zone.incr("n", 0.5, null)).isEqualTo(7.5);
        assertThat(zone.get("n")).isEqualTo(7.5);
        zone.set("n", "text", null);
        assertThatThrownBy(() -> zone.incr("n", 1, null))
                .hasMessage("incr 'n': the value is String (expected: a number)");
        zone.set("n", 1.0, null);
        assertThat(zone.incr("n", 1, null)).isEqualTo(2.0);
        assertThat(zone.delete("n")).isTrue();
        assertThat(zone.incr("n", 3, null)).isEqualTo(3.0);
    }
}
