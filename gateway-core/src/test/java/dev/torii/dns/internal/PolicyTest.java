package dev.torii.dns.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class PolicyTest {
    private final Policy policy = new Policy(0, Duration.ofMinutes(5).toNanos(), 0, 0, 30, 0.8, 0, 0);

    private static long seconds(long nanos) {
        return Duration.ofNanos(nanos).toSeconds();
    }

    @Test
    void backgroundRefreshesOfAStaleAnswerBackOffFromOneSecondToTheStaleAnswerTtl() {
        assertThat(seconds(policy.staleRetryAfter(0, 0))).isEqualTo(1);
        assertThat(seconds(policy.staleRetryAfter(0, 1))).isEqualTo(1);
        assertThat(seconds(policy.staleRetryAfter(0, 2))).isEqualTo(2);
        assertThat(seconds(policy.staleRetryAfter(0, 3))).isEqualTo(4);
        assertThat(seconds(policy.staleRetryAfter(0, 5))).isEqualTo(16);
        assertThat(seconds(policy.staleRetryAfter(0, 6))).isEqualTo(30);
        assertThat(seconds(policy.staleRetryAfter(0, 1_000))).isEqualTo(30);
    }
}
