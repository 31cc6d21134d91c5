package dev.torii.internal.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.Upstream;
import java.util.HashMap;
import java.util.Map;
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
}
