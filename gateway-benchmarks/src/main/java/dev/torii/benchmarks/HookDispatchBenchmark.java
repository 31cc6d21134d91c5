package dev.torii.benchmarks;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
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
 * The per-request cost of dispatching the {@link dev.torii.Phase#REQUEST} hooks: three hooks of three different classes
 * (so the {@code onRequest} call site is megamorphic, as in a gateway with maintenance, rate limiting and a plugin),
 * each doing the small amount of work such hooks do.
 *
 * <p>Dispatch is {@link #dispatch}: call each hook in order, stop at the first result that is not
 * {@link HookResult#proceed()}, turn a throwing hook into a failure. It stands in for the engine's hook runner, which
 * is not on main yet; switch to it when it lands.
 *
 * <ul>
 *   <li>{@code noHooks}: the dispatch loop over an empty list (the floor).
 *   <li>{@code threeHooksProceed}: all three proceed (the common case).
 *   <li>{@code threeHooksLastResponds}: the third hook answers with a precomputed response.
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
    List<Hook> proceeding;
    List<Hook> lastResponds;
    Exchange exchange;

    @Setup
    public void setUp() {
        none = List.of();
        proceeding = List.of(new MaintenanceHook(), new ClientKeyHook(), new PluginHook("x-block-me"));
        lastResponds = List.of(new MaintenanceHook(), new ClientKeyHook(), new PluginHook("x-client"));
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
    public HookResult noHooks() {
        return dispatch(none, exchange);
    }

    @Benchmark
    public HookResult threeHooksProceed() {
        return dispatch(proceeding, exchange);
    }

    @Benchmark
    public HookResult threeHooksLastResponds() {
        return dispatch(lastResponds, exchange);
    }

    /** Runs {@code onRequest} of each hook in order until one does not proceed. */
    static HookResult dispatch(List<Hook> hooks, Exchange exchange) {
        for (int i = 0, n = hooks.size(); i < n; i++) {
            HookResult r;
            try {
                r = hooks.get(i).onRequest(exchange);
            } catch (RuntimeException e) {
                return FAILED;
            }
            if (r != HookResult.proceed()) {
                return r;
            }
        }
        return HookResult.proceed();
    }

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
