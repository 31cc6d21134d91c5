package dev.torii.script;

import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Phase;
import dev.torii.script.internal.ContextManager;
import dev.torii.script.internal.HookSpec;
import java.util.Map;

/**
 * A {@link Plugin} attached with one configuration: the {@link Hook} that runs the plugin's phase functions
 * ({@code onRequest(ex, cfg)}, ...) for every exchange it is added to, globally
 * ({@code Gateway.builder().hook(h)}) or on a route ({@code Route.builder(..).hook(h)}). Made by
 * {@link ScriptRuntime#hook(Plugin, Map)}.
 *
 * <p>A phase the plugin does not export costs nothing. A function that throws, runs past its statement limit or its
 * deadline, or returns something other than nothing or {@code ex.respond(...)}, throws a {@link ScriptException}
 * naming {@code FILE:LINE:COLUMN}; the engine answers that exchange with HOOK_FAILED and logs it once.
 *
 * <p>Thread-safe: each event loop runs it in its own JavaScript context.
 */
public final class ScriptHook implements Hook {
    private final HookSpec spec;
    private final ContextManager contexts;
    private final Map<String, Object> config;
    private final boolean request;
    private final boolean upstream;
    private final boolean response;
    private final boolean log;

    ScriptHook(HookSpec spec, ContextManager contexts, Map<String, Object> config) {
        this.spec = spec;
        this.contexts = contexts;
        this.config = config;
        var phases = spec.plugin().phases();
        this.request = phases.contains(Phase.REQUEST);
        this.upstream = phases.contains(Phase.UPSTREAM);
        this.response = phases.contains(Phase.RESPONSE);
        this.log = phases.contains(Phase.LOG);
    }

    /** The plugin's name, as used in logs and metrics. */
    @Override
    public String name() {
        return spec.plugin().name();
    }

    /** The plugin. */
    public Plugin plugin() {
        return spec.plugin();
    }

    /** The validated configuration with defaults applied: what scripts receive as {@code cfg} (frozen). */
    public Map<String, Object> config() {
        return config;
    }

    /** Runs {@code onRequest(ex, cfg)} if exported. */
    @Override
    public HookResult onRequest(Exchange exchange) {
        return request ? contexts.call(spec, Phase.REQUEST, exchange) : HookResult.proceed();
    }

    /** Runs {@code onUpstream(ex, cfg)} if exported. */
    @Override
    public HookResult onUpstream(Exchange exchange) {
        return upstream ? contexts.call(spec, Phase.UPSTREAM, exchange) : HookResult.proceed();
    }

    /** Runs {@code onResponse(ex, cfg)} if exported. */
    @Override
    public HookResult onResponse(Exchange exchange) {
        return response ? contexts.call(spec, Phase.RESPONSE, exchange) : HookResult.proceed();
    }

    /** Runs {@code onLog(ex, cfg)} if exported; its return value is ignored. */
    @Override
    public void onLog(Exchange exchange) {
        if (log) {
            contexts.call(spec, Phase.LOG, exchange);
        }
    }

    @Override
    public String toString() {
        return "ScriptHook(" + spec.plugin().name() + " " + spec.plugin().version() + ", config " + config + ")";
    }
}
