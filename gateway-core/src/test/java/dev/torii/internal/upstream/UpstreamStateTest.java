package dev.torii.internal.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.upstream.EndpointStatus;
import dev.torii.upstream.HealthCheck;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.OutlierDetection;
import dev.torii.upstream.Upstream;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class UpstreamStateTest {
    private static UpstreamState state(LoadBalancing lb, int endpoints) {
        var b = Upstream.builder("u").loadBalancing(lb);
        for (int i = 0; i < endpoints; i++) {
            b.endpoint("127.0.0.1:" + (9000 + i));
        }
        return new UpstreamState(b.build());
    }

    @Test
    void roundRobinVisitsEveryEndpointEvenly() {
        UpstreamState s = state(LoadBalancing.ROUND_ROBIN, 3);
        Map<Integer, Integer> counts = new HashMap<>();
        for (int i = 0; i < 300; i++) {
            counts.merge(s.pick(-1), 1, Integer::sum);
        }
        assertThat(counts).containsEntry(0, 100).containsEntry(1, 100).containsEntry(2, 100);
    }

    @Test
    void leastInFlightPrefersTheIdlestEndpoint() {
        UpstreamState s = state(LoadBalancing.LEAST_IN_FLIGHT, 3);
        s.started(0);
        s.started(0);
        s.started(2);
        for (int i = 0; i < 5; i++) {
            assertThat(s.pick(-1)).isEqualTo(1);
        }
        s.started(1);
        s.started(1);
        assertThat(s.pick(-1)).isEqualTo(2);
        s.finished(0);
        s.finished(0);
        assertThat(s.pick(-1)).isEqualTo(0);
    }

    @Test
    void anExcludedEndpointIsNotPickedAndASingleEndpointCannotBeRetriedElsewhere() {
        UpstreamState s = state(LoadBalancing.ROUND_ROBIN, 2);
        for (int i = 0; i < 10; i++) {
            assertThat(s.pick(1)).isEqualTo(0);
        }
        assertThat(state(LoadBalancing.ROUND_ROBIN, 1).pick(0)).isEqualTo(-1);
        assertThat(state(LoadBalancing.LEAST_IN_FLIGHT, 1).pick(-1)).isEqualTo(0);
    }

    // ------------------------------------------------------------------ health

    private final AtomicLong clock = new AtomicLong(1_000_000_000L);

    private static final OutlierDetection THREE_FAILURES =
            new OutlierDetection(3, Duration.ofSeconds(10), Duration.ofSeconds(25), 50);

    private UpstreamState healthState(int endpoints, boolean panic, HealthCheck check) {
        var b = Upstream.builder("u")
                .outlierDetection(THREE_FAILURES)
                .panic(panic)
                .healthCheck(check);
        for (int i = 0; i < endpoints; i++) {
            b.endpoint("127.0.0.1:" + (9000 + i));
        }
        return new UpstreamState(b.build(), null, clock::get);
    }

    private Set<Integer> picks(UpstreamState s, int n) {
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            seen.add(s.pick(-1));
        }
        return seen;
    }

    private void advance(long seconds) {
        clock.addAndGet(TimeUnit.SECONDS.toNanos(seconds));
    }

    @Test
    void anEndpointFailingTheConfiguredTimesInARowIsEjectedAndSkippedUntilItsEjectionEnds() {
        UpstreamState s = healthState(3, false, null);
        s.failed(1, "status 502");
        s.failed(1, "status 502");
        assertThat(picks(s, 9)).as("two failures: not ejected yet").containsExactlyInAnyOrder(0, 1, 2);

        s.failed(1, "status 502");

        assertThat(picks(s, 9)).as("ejected").containsExactlyInAnyOrder(0, 2);
        assertThat(s.status().get(1).ejected()).isTrue();
        advance(9);
        assertThat(picks(s, 9)).doesNotContain(1);
        advance(1);
        assertThat(picks(s, 9)).as("the 10 s ejection ended").containsExactlyInAnyOrder(0, 1, 2);
        assertThat(s.status().get(1).ejected()).isFalse();
    }

    @Test
    void aSuccessBreaksTheRunOfFailures() {
        UpstreamState s = healthState(2, false, null);
        s.failed(0, "reset");
        s.failed(0, "reset");
        s.succeeded(0);
        s.failed(0, "reset");
        s.failed(0, "reset");

        assertThat(picks(s, 4)).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void aRepeatedEjectionLastsLongerUpToTheMaximum() {
        UpstreamState s = healthState(2, false, null);
        long[] lengths = new long[3];
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 3; i++) {
                s.failed(0, "connect refused");
            }
            lengths[round] = s.status().get(0).ejectedForMillis();
            advance(lengths[round] / 1000);
            assertThat(picks(s, 4)).as("round %d: returned", round).contains(0);
        }

        assertThat(lengths).containsExactly(10_000, 20_000, 25_000);
    }

    @Test
    void noMoreThanTheMaximumShareOfEndpointsIsEjected() {
        UpstreamState s = healthState(4, false, null);
        for (int e = 0; e < 4; e++) {
            for (int i = 0; i < 3; i++) {
                s.failed(e, "timeout");
            }
        }

        assertThat(s.status().stream().filter(EndpointStatus::ejected).count())
                .as("50 % of 4 endpoints")
                .isEqualTo(2);
        assertThat(picks(s, 8)).containsExactlyInAnyOrder(2, 3);
    }

    @Test
    void withNoEndpointAvailableTheUpstreamAnswersNoEndpointUnlessPanicRoutingIsOn() {
        HealthCheck check = HealthCheck.of("/").thresholds(1, 1);
        UpstreamState strict = healthState(2, false, check);
        UpstreamState panic = healthState(2, true, check);
        for (UpstreamState s : new UpstreamState[] {strict, panic}) {
            s.checked(0, false, "status 500");
            s.checked(1, false, "connect refused");
        }

        assertThat(picks(strict, 4)).containsExactly(-1);
        assertThat(picks(panic, 4)).containsExactlyInAnyOrder(0, 1);
        assertThat(healthState(1, false, null).pick(-1)).isEqualTo(0);
    }

    @Test
    void activeChecksMarkAnEndpointUnhealthyAndHealthyAgainAtTheirThresholds() {
        UpstreamState s = healthState(2, false, HealthCheck.of("/").thresholds(2, 3));
        s.checked(0, false, "status 500");
        s.checked(0, false, "status 500");
        assertThat(s.status().get(0).healthy()).isTrue();
        s.checked(0, false, "status 500");
        assertThat(s.status().get(0).healthy()).isFalse();
        assertThat(picks(s, 4)).containsExactly(1);

        s.checked(0, true, "status 200");
        assertThat(s.status().get(0).healthy()).as("one pass of two").isFalse();
        s.checked(0, true, "status 200");

        assertThat(s.status().get(0).healthy()).isTrue();
        assertThat(picks(s, 4)).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void aHealthyVerdictOfTheActiveChecksEndsAnEjection() {
        UpstreamState s = healthState(2, false, HealthCheck.of("/").thresholds(1, 1));
        for (int i = 0; i < 3; i++) {
            s.failed(0, "reset");
        }
        s.checked(0, false, "connect refused");
        s.checked(0, true, "status 200");

        assertThat(s.status().get(0).available()).isTrue();
    }

    @Test
    void aChangedUpstreamKeepsTheHealthOfTheEndpointsItStillHas() {
        UpstreamState before = healthState(2, false, null);
        for (int i = 0; i < 3; i++) {
            before.failed(1, "reset");
        }
        Upstream changed = Upstream.builder("u")
                .endpoint("127.0.0.1:9001")
                .endpoint("127.0.0.1:9005")
                .outlierDetection(THREE_FAILURES)
                .build();

        UpstreamState after = new UpstreamState(changed, before, clock::get);

        assertThat(after.status().get(0).ejected())
                .as("127.0.0.1:9001 kept its ejection")
                .isTrue();
        assertThat(after.status().get(1).ejected()).isFalse();
        assertThat(picks(after, 4)).containsExactly(1);
    }
}
