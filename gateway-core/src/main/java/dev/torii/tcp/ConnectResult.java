package dev.torii.tcp;

import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * What a {@link dev.torii.Hook#onConnect} hook decided about a TCP connection: go on (to the next hook, then to the
 * backend chosen on the {@link Connection}), reject the client (the connection is closed, no backend is contacted),
 * or decide later. Immutable.
 */
public sealed interface ConnectResult {
    /** Go on to the next hook, then connect to the chosen backend. */
    static ConnectResult proceed() {
        return Proceed.INSTANCE;
    }

    /** Close the client connection now; later hooks do not run and no backend is contacted. */
    static ConnectResult reject() {
        return Reject.INSTANCE;
    }

    /**
     * Decide when {@code stage} completes; the connection resumes on its event loop. A stage that fails rejects the
     * connection (and is logged). The stage must complete: a hook that may wait forever must time out itself.
     */
    static ConnectResult later(CompletionStage<ConnectResult> stage) {
        return new Later(stage);
    }

    /** See {@link #proceed()}. */
    enum Proceed implements ConnectResult {
        INSTANCE
    }

    /** See {@link #reject()}. */
    enum Reject implements ConnectResult {
        INSTANCE
    }

    /** See {@link #later(CompletionStage)}. */
    record Later(CompletionStage<ConnectResult> stage) implements ConnectResult {
        public Later {
            Objects.requireNonNull(stage, "stage");
        }
    }
}
