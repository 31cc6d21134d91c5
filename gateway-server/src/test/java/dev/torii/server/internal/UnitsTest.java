package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class UnitsTest {
    @Test
    void durationsTakeMillisecondsSecondsMinutesAndHours() {
        assertThat(Units.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Units.parseDuration("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(Units.parseDuration("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(Units.parseDuration("1h")).isEqualTo(Duration.ofHours(1));
        assertThat(Units.parseDuration("0s")).isZero();
    }

    @Test
    void durationsNeedAUnit() {
        for (String bad : new String[] {"10", "", "1.5s", "-1s", "10 sec", "1d", "s", "99999999999999999999s"}) {
            assertThatIllegalArgumentException()
                    .as(bad)
                    .isThrownBy(() -> Units.parseDuration(bad))
                    .withMessage("a duration like 500ms, 10s, 5m or 1h");
        }
    }

    @Test
    void sizesAreBytesOrBinaryMultiples() {
        assertThat(Units.parseSize("512")).isEqualTo(512);
        assertThat(Units.parseSize("8k")).isEqualTo(8 * 1024);
        assertThat(Units.parseSize("1M")).isEqualTo(1024 * 1024);
        assertThat(Units.parseSize("1g")).isEqualTo(1024L * 1024 * 1024);
        assertThat(Units.parseSize("0")).isZero();
    }

    @Test
    void sizesRejectOtherUnitsAndOverflow() {
        for (String bad : new String[] {"8kb", "8x", "-1", "1.5m", "", "9223372036854775807k"}) {
            assertThatIllegalArgumentException()
                    .as(bad)
                    .isThrownBy(() -> Units.parseSize(bad))
                    .withMessage("a size like 512, 8k, 1m or 1g");
        }
    }

    @Test
    void formatWritesTheLargestExactUnit() {
        assertThat(Units.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
        assertThat(Units.format(Duration.ofSeconds(30))).isEqualTo("30s");
        assertThat(Units.format(Duration.ofMinutes(5))).isEqualTo("5m");
        assertThat(Units.format(Duration.ofHours(2))).isEqualTo("2h");
        assertThat(Units.format(Duration.ZERO)).isEqualTo("0s");
    }
}
