package dev.torii.script.internal;

import dev.torii.Phase;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The phases where each script API function may be called, and the check that enforces them. {@code null} stands for
 * module evaluation ("init"), when no exchange exists. Stateless.
 */
final class Phases {
    static final Set<Phase> ALL = EnumSet.of(Phase.REQUEST, Phase.UPSTREAM, Phase.RESPONSE, Phase.LOG);
    static final Set<Phase> REQUEST_UPSTREAM = EnumSet.of(Phase.REQUEST, Phase.UPSTREAM);
    static final Set<Phase> ANSWERING = EnumSet.of(Phase.REQUEST, Phase.UPSTREAM, Phase.RESPONSE);
    static final Set<Phase> UPSTREAM = EnumSet.of(Phase.UPSTREAM);
    static final Set<Phase> RESPONSE = EnumSet.of(Phase.RESPONSE);
    static final Set<Phase> RESPONSE_LOG = EnumSet.of(Phase.RESPONSE, Phase.LOG);
    static final Set<Phase> LOG = EnumSet.of(Phase.LOG);
    static final Set<Phase> CONNECT = EnumSet.of(Phase.CONNECT);
    /** Every phase, CONNECT included: for the {@code torii} functions that do not depend on an exchange. */
    static final Set<Phase> ANY = EnumSet.allOf(Phase.class);

    private Phases() {}

    /** Throws naming {@code function}, the allowed phases and the current one unless {@code now} is allowed. */
    static void check(String function, Set<Phase> allowed, Phase now) {
        if (now == null || !allowed.contains(now)) {
            throw new IllegalStateException(function + " may be called in phase" + (allowed.size() > 1 ? "s " : " ")
                    + allowed.stream().map(Phase::name).collect(Collectors.joining(", ")) + " (now: "
                    + (now == null ? "INIT, while the module is evaluated" : now.name()) + ")");
        }
    }
}
