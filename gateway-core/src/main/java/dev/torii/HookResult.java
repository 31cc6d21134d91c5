package dev.torii;

import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * What a {@link Hook} decided: go on, answer the client now, or decide later (an asynchronous check such as a Redis
 * rate limit). Immutable.
 */
public sealed interface HookResult {
    /** Go on to the next hook and then the next step of the exchange. */
    static HookResult proceed() {
        return Proceed.INSTANCE;
    }

    /** Answer the client with {@code response}; later hooks of the phase and the upstream are skipped. */
    static HookResult respond(LocalResponse response) {
        return new Respond(response);
    }

    /** Answer the client with a {@code text/plain} body. */
    static HookResult respond(int status, String body) {
        return new Respond(LocalResponse.text(status, body));
    }

    /**
     * Decide when {@code stage} completes. The exchange resumes on its event loop; a stage that fails is
     * {@link ProxyError#HOOK_FAILED}. The stage must complete: a hook that may wait forever must time out itself.
     */
    static HookResult later(CompletionStage<HookResult> stage) {
        return new Later(stage);
    }

    /** See {@link #proceed()}. */
    enum Proceed implements HookResult {
        INSTANCE
    }

    /** See {@link #respond(LocalResponse)}. */
    record Respond(LocalResponse response) implements HookResult {
        public Respond {
            Objects.requireNonNull(response, "response");
        }
    }

    /** See {@link #later(CompletionStage)}. */
    record Later(CompletionStage<HookResult> stage) implements HookResult {
        public Later {
            Objects.requireNonNull(stage, "stage");
        }
    }
}
