package dev.torii.internal;

import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Phase;
import java.util.List;

/**
 * Runs the hooks of one phase in order and reports the outcome to a {@link Continuation}: on to the next step, a
 * local response, or a failure. Synchronous results stay on the caller's stack (the common, cheap path); a
 * {@link HookResult.Later} suspends the run and resumes it on the exchange's event loop when the stage completes.
 *
 * <p>A hook runs only in the phases it {@linkplain Hook#phases() reports}; callers ask {@link #any} first and skip a
 * phase (and the continuation they would allocate for it) that none of the exchange's hooks runs in. The phases are
 * read per exchange, not kept in per-table arrays: a plugin's exports change on a hot reload without the routing
 * table changing, and the check is a bit test on an {@link java.util.EnumSet}.
 *
 * <p>Not thread-safe: one run belongs to one exchange on its event loop.
 */
public final class HookRunner {
    /** Where a phase run ends. Called on the exchange's event loop. */
    public interface Continuation {
        /** Every hook proceeded. */
        void proceed();

        /** A hook answered. */
        void respond(HookResult.Respond response);

        /** A hook threw or its asynchronous stage failed. */
        void fail(Hook hook, Throwable cause);

        /** Whether the exchange was abandoned (client gone) while a hook was pending; then nothing more is called. */
        boolean abandoned();
    }

    private HookRunner() {}

    /** Whether a hook of {@code first} or {@code second} runs in {@code phase}; no allocation. */
    public static boolean any(Phase phase, List<Hook> first, List<Hook> second) {
        return any(phase, first) || any(phase, second);
    }

    private static boolean any(Phase phase, List<Hook> hooks) {
        for (int i = 0, n = hooks.size(); i < n; i++) {
            if (hooks.get(i).phases().contains(phase)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs the hooks of {@code first} then {@code second} (either may be empty) that run in {@code phase}, which must be
     * one of REQUEST, UPSTREAM or RESPONSE.
     */
    public static void run(Phase phase, List<Hook> first, List<Hook> second, Exchange exchange, Continuation next) {
        run(phase, first, second, 0, exchange, next);
    }

    private static void run(
            Phase phase, List<Hook> first, List<Hook> second, int from, Exchange exchange, Continuation next) {
        int total = first.size() + second.size();
        for (int i = from; i < total; i++) {
            Hook hook = i < first.size() ? first.get(i) : second.get(i - first.size());
            if (!hook.phases().contains(phase)) {
                continue;
            }
            HookResult result;
            try {
                result = invoke(phase, hook, exchange);
            } catch (Throwable t) {
                next.fail(hook, t);
                return;
            }
            if (!handle(result, phase, first, second, i, hook, exchange, next)) {
                return;
            }
        }
        next.proceed();
    }

    /** Returns true to go on with the next hook synchronously. */
    private static boolean handle(
            HookResult result,
            Phase phase,
            List<Hook> first,
            List<Hook> second,
            int index,
            Hook hook,
            Exchange exchange,
            Continuation next) {
        if (result == HookResult.proceed() || result == null) {
            return true;
        }
        if (result instanceof HookResult.Respond respond) {
            next.respond(respond);
            return false;
        }
        var later = (HookResult.Later) result;
        later.stage().whenComplete((r, error) -> exchange.executor().execute(() -> {
            if (next.abandoned()) {
                return;
            }
            if (error != null) {
                next.fail(hook, error);
            } else if (handle(r, phase, first, second, index, hook, exchange, next)) {
                run(phase, first, second, index + 1, exchange, next);
            }
        }));
        return false;
    }

    private static HookResult invoke(Phase phase, Hook hook, Exchange exchange) {
        return switch (phase) {
            case REQUEST -> hook.onRequest(exchange);
            case UPSTREAM -> hook.onUpstream(exchange);
            case RESPONSE -> hook.onResponse(exchange);
            default ->
                throw new IllegalArgumentException("phase: " + phase + " (expected: REQUEST, UPSTREAM or RESPONSE)");
        };
    }
}
