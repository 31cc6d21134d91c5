package dev.torii.benchmarks;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Phase;
import dev.torii.internal.HookRunner;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-request cost of dispatching the {@link Phase#REQUEST} hooks through the engine's {@link HookRunner}: two
 * global hooks and one route hook, of three different classes (so the {@code onRequest} call site is megamorphic, as in
 * a gateway with maintenance, rate limiting and a plugin), each doing the small amount of work such hooks do. The
 * exchange is a minimal {@link BenchExchange} (the engine's own is package-private and needs a channel).
 *
 * <ul>
 *   <li>{@code noHooks}: a run over two empty lists (the floor).
 *   <li>{@code threeNoopHooks}: three hooks of three classes that only proceed: the dispatch itself, megamorphic.
 *   <li>{@code threeHooksProceed}: all three proceed (the common case).
 *   <li>{@code threeHooksLastResponds}: the route hook answers with a precomputed response.
 *   <li>{@code requestOnlyHooksOtherPhases} and {@code requestOnlyHooksOtherPhasesUnreported}: the UPSTREAM and
 *       RESPONSE phases of an exchange whose three hooks (like plugins exporting only {@code onRequest}) do nothing
 *       there, dispatched as the engine does it (ask {@link HookRunner#any}, then run with a fresh continuation):
 *       the hooks report only {@link Phase#REQUEST} ({@link Hook#phases()}), or every phase (as every hook did
 *       before per-phase lists), in which case each is called and looks up its pinned state on the exchange, as a
 *       script hook does.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HookDispatchBenchmark {
    static final AttributeKey<String> CLIENT = AttributeKey.of("client", String.class);
    static final HookResult BLOCKED = HookResult.respond(403, "blocked\n");
    static final HookResult FAILED = HookResult.respond(500, "hook failed\n");

    List<Hook> none;
    List<Hook> global;
    List<Hook> routeProceeds;
    List<Hook> routeResponds;
    List<Hook> noopGlobal;
    List<Hook> noopRoute;
    List<Hook> requestOnly;
    List<Hook> requestOnlyUnreported;
    Exchange exchange;
    Outcome outcome;

    @Setup
    public void setUp() {
        none = List.of();
        global = List.of(new MaintenanceHook(), new ClientKeyHook());
        routeProceeds = List.of(new PluginHook("x-block-me"));
        routeResponds = List.of(new PluginHook("x-client"));
        noopGlobal = List.of(new NoopA(), new NoopB());
        noopRoute = List.of(new NoopC());
        requestOnly = List.of(new RequestOnlyHook(true), new RequestOnlyHook(true), new RequestOnlyHook(true));
        requestOnlyUnreported =
                List.of(new RequestOnlyHook(false), new RequestOnlyHook(false), new RequestOnlyHook(false));
        outcome = new Outcome();
        exchange = new BenchExchange(
                "GET",
                "api.example.com",
                "/v1/users/42?x=1",
                SimpleHeaders.of(
                        "host", "api.example.com",
                        "user-agent", "wrk/4.1.0",
                        "accept", "*/*",
                        "x-client", "bench",
                        "x-request-id", "4f1c2a9e-6b1d-4c1e-9d5f-0a7b3c2d1e0f"));
        if (threeHooksProceed() != HookResult.proceed() || threeHooksLastResponds() != BLOCKED) {
            throw new IllegalStateException("hooks do not behave as the benchmark assumes");
        }
    }

    @Benchmark
    public int requestOnlyHooksOtherPhases() {
        return otherPhases(requestOnly);
    }

    @Benchmark
    public int requestOnlyHooksOtherPhasesUnreported() {
        return otherPhases(requestOnlyUnreported);
    }

    private int otherPhases(List<Hook> hooks) {
        int runs = 0;
        for (Phase phase : OTHER_PHASES) {
            if (HookRunner.any(phase, hooks, none)) {
                HookRunner.run(phase, hooks, none, exchange, new Outcome());
                runs++;
            }
        }
        return runs;
    }

    private static final Phase[] OTHER_PHASES = {Phase.UPSTREAM, Phase.RESPONSE};

    /** Does something only in REQUEST; elsewhere looks up its per-exchange state, as a script hook's version pin. */
    static final class RequestOnlyHook implements Hook {
        private static final AttributeKey<String> PINNED = AttributeKey.of("pinned", String.class);
        private static final java.util.Set<Phase> PHASES =
                java.util.Collections.unmodifiableSet(java.util.EnumSet.of(Phase.REQUEST));
        private final boolean reports;

        RequestOnlyHook(boolean reports) {
            this.reports = reports;
        }

        @Override
        public java.util.Set<Phase> phases() {
            return reports ? PHASES : Hook.super.phases();
        }

        @Override
        public HookResult onUpstream(Exchange exchange) {
            return exchange.get(PINNED) == null ? HookResult.proceed() : FAILED;
        }

        @Override
        public HookResult onResponse(Exchange exchange) {
            return exchange.get(PINNED) == null ? HookResult.proceed() : FAILED;
        }
    }

    @Benchmark
    public HookResult noHooks() {
        HookRunner.run(Phase.REQUEST, none, none, exchange, outcome);
        return outcome.result;
    }

    @Benchmark
    public HookResult threeNoopHooks() {
        HookRunner.run(Phase.REQUEST, noopGlobal, noopRoute, exchange, outcome);
        return outcome.result;
    }

    @Benchmark
    public HookResult threeHooksProceed() {
        HookRunner.run(Phase.REQUEST, global, routeProceeds, exchange, outcome);
        return outcome.result;
    }

    @Benchmark
    public HookResult threeHooksLastResponds() {
        HookRunner.run(Phase.REQUEST, global, routeResponds, exchange, outcome);
        return outcome.result;
    }

    /** Records how a run ended; reused across invocations, like the engine's per-exchange continuation. */
    static final class Outcome implements HookRunner.Continuation {
        HookResult result;

        @Override
        public void proceed() {
            result = HookResult.proceed();
        }

        @Override
        public void respond(HookResult.Respond response) {
            result = response;
        }

        @Override
        public void fail(Hook hook, Throwable cause) {
            result = FAILED;
        }

        @Override
        public boolean abandoned() {
            return false;
        }
    }

    /** Proceeds; three classes so that the call site sees three receiver types. */
    static final class NoopA implements Hook {}

    static final class NoopB implements Hook {}

    static final class NoopC implements Hook {}

    /** Like maintenance mode: one volatile read. */
    static final class MaintenanceHook implements Hook {
        private volatile boolean enabled;

        @Override
        public HookResult onRequest(Exchange exchange) {
            return enabled ? HookResult.respond(503, "maintenance\n") : HookResult.proceed();
        }
    }

    /** Like a rate limiter's first step: derive the client key from a header and keep it for later phases. */
    static final class ClientKeyHook implements Hook {
        @Override
        public HookResult onRequest(Exchange exchange) {
            String key = exchange.request().headers().get("x-client");
            exchange.set(CLIENT, key != null ? key : exchange.clientAddress().getHostString());
            return HookResult.proceed();
        }
    }

    /** Like the DESIGN.md plugin: block on a header, refuse a path, else tag the request. */
    static final class PluginHook implements Hook {
        private final String blockHeader;

        PluginHook(String blockHeader) {
            this.blockHeader = blockHeader;
        }

        @Override
        public HookResult onRequest(Exchange exchange) {
            var request = exchange.request();
            if (request.headers().contains(blockHeader)) {
                return BLOCKED;
            }
            if (request.path().startsWith("/admin")) {
                return HookResult.respond(404, "not here\n");
            }
            request.headers().set("x-client-ip", exchange.get(CLIENT));
            return HookResult.proceed();
        }
    }
}
