package dev.torii.internal;

import static dev.torii.internal.ExchangeState.CLOSED;
import static dev.torii.internal.ExchangeState.CONNECTING;
import static dev.torii.internal.ExchangeState.DISCARDING;
import static dev.torii.internal.ExchangeState.FINISHING;
import static dev.torii.internal.ExchangeState.FORWARDING;
import static dev.torii.internal.ExchangeState.IDLE;
import static dev.torii.internal.ExchangeState.LOCAL_RESPONSE;
import static dev.torii.internal.ExchangeState.RELAYING;
import static dev.torii.internal.ExchangeState.REQUEST_HOOKS;
import static dev.torii.internal.ExchangeState.RESPONSE_HOOKS;
import static dev.torii.internal.ExchangeState.ROUTING;
import static dev.torii.internal.ExchangeState.TUNNEL;
import static dev.torii.internal.ExchangeState.UPSTREAM_HOOKS;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The exchange's transition table, written out once more here so that a change to it is a deliberate one. */
class ExchangeStateTest {
    private static final Map<ExchangeState, Set<ExchangeState>> EXPECTED = new EnumMap<>(ExchangeState.class);

    static {
        EXPECTED.put(IDLE, EnumSet.of(REQUEST_HOOKS, CLOSED));
        EXPECTED.put(REQUEST_HOOKS, EnumSet.of(ROUTING, LOCAL_RESPONSE, CLOSED));
        EXPECTED.put(ROUTING, EnumSet.of(UPSTREAM_HOOKS, LOCAL_RESPONSE, CLOSED));
        EXPECTED.put(UPSTREAM_HOOKS, EnumSet.of(CONNECTING, LOCAL_RESPONSE, CLOSED));
        EXPECTED.put(CONNECTING, EnumSet.of(CONNECTING, FORWARDING, LOCAL_RESPONSE, CLOSED));
        EXPECTED.put(FORWARDING, EnumSet.of(CONNECTING, RESPONSE_HOOKS, LOCAL_RESPONSE, CLOSED));
        EXPECTED.put(RESPONSE_HOOKS, EnumSet.of(RELAYING, TUNNEL, LOCAL_RESPONSE, CLOSED));
        EXPECTED.put(RELAYING, EnumSet.of(FINISHING, CLOSED));
        EXPECTED.put(LOCAL_RESPONSE, EnumSet.of(FINISHING, DISCARDING, CLOSED));
        EXPECTED.put(TUNNEL, EnumSet.of(CLOSED));
        EXPECTED.put(FINISHING, EnumSet.of(IDLE, CLOSED));
        EXPECTED.put(DISCARDING, EnumSet.of(IDLE, CLOSED));
        EXPECTED.put(CLOSED, EnumSet.noneOf(ExchangeState.class));
    }

    @Test
    void everyDeclaredTransitionIsAllowed() {
        for (var e : EXPECTED.entrySet()) {
            for (ExchangeState to : e.getValue()) {
                assertThat(e.getKey().allows(to)).as(e.getKey() + " -> " + to).isTrue();
            }
        }
    }

    @Test
    void everyOtherTransitionIsRefused() {
        int refused = 0;
        for (ExchangeState from : ExchangeState.values()) {
            for (ExchangeState to : ExchangeState.values()) {
                if (!EXPECTED.get(from).contains(to)) {
                    assertThat(from.allows(to)).as(from + " -> " + to).isFalse();
                    refused++;
                }
            }
        }
        assertThat(refused).isEqualTo(13 * 13 - 33);
    }

    @Test
    void theTableCoversEveryStateAndSuccessorsMatchIt() {
        assertThat(EXPECTED.keySet()).containsExactlyInAnyOrder(ExchangeState.values());
        for (ExchangeState s : ExchangeState.values()) {
            assertThat(s.successors()).as(s.name()).isEqualTo(EXPECTED.get(s));
        }
    }

    @Test
    void closedIsTerminalAndReachableFromEveryOtherState() {
        assertThat(CLOSED.successors()).isEmpty();
        for (ExchangeState s : ExchangeState.values()) {
            if (s != CLOSED) {
                assertThat(s.allows(CLOSED)).as(s.name()).isTrue();
            }
        }
    }

    @Test
    void everyStateIsReachableFromIdleAndEveryLiveStateCanGetBackToIdle() {
        assertThat(reachable(IDLE)).containsExactlyInAnyOrder(ExchangeState.values());
        for (ExchangeState s : ExchangeState.values()) {
            if (s != CLOSED && s != TUNNEL) {
                assertThat(reachable(s)).as(s.name()).contains(IDLE);
            }
        }
    }

    @Test
    void aResponseCannotStartTwiceNorAfterItsHeadWentOut() {
        // The double responses the state machine exists to prevent.
        assertThat(LOCAL_RESPONSE.allows(LOCAL_RESPONSE)).isFalse();
        assertThat(RELAYING.allows(LOCAL_RESPONSE)).isFalse();
        assertThat(FINISHING.allows(LOCAL_RESPONSE)).isFalse();
        assertThat(TUNNEL.allows(RELAYING)).isFalse();
        assertThat(RELAYING.allows(RESPONSE_HOOKS)).isFalse();
    }

    private static Set<ExchangeState> reachable(ExchangeState from) {
        Set<ExchangeState> seen = EnumSet.of(from);
        var todo = new ArrayDeque<ExchangeState>();
        todo.add(from);
        while (!todo.isEmpty()) {
            for (ExchangeState next : todo.poll().successors()) {
                if (seen.add(next)) {
                    todo.add(next);
                }
            }
        }
        return seen;
    }
}
