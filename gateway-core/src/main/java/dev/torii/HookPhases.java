package dev.torii;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/** The default of {@link Hook#phases()}: every phase, as one shared immutable set. */
final class HookPhases {
    static final Set<Phase> ALL = Collections.unmodifiableSet(EnumSet.allOf(Phase.class));

    private HookPhases() {}
}
