package dev.torii.script;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.LocalResponse;
import dev.torii.Phase;
import dev.torii.script.internal.BreakerState;
import dev.torii.script.internal.ContextManager;
import dev.torii.script.internal.HookSpec;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.Connection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

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
 * <h2>Breaker</h2>
 *
 * A {@link PluginBreaker} guards each attachment: after {@code threshold} budget overruns (statement limit or deadline)
 * within its window, the plugin's functions are not called for the cool-down; exchanges go on without it (fail open)
 * or get {@code 503} with {@code Retry-After} (fail closed; a TCP connection is rejected). So one client hammering a
 * path whose plugin loops costs the event loops a few budgets per window, not one per request, and everyone else keeps
 * being served. One log line per trip; counted in {@link ScriptStats}.
 *
 * <h2>Versions and reloads</h2>
 *
 * The hook runs one <em>version</em> at a time: an immutable pairing of a compiled plugin with its validated config.
 * {@link ScriptRuntime#reload()} (or its file watcher) swaps in a new version atomically once the new plugin has
 * compiled and accepted the config. An exchange is pinned to the version that was current when this hook first ran
 * for it, so all its phases (say {@code onRequest} and {@code onResponse}, which may share {@code ex.vars}) run the
 * same code even when a reload happens between them.
 *
 * <p>Thread-safe: each event loop runs it in its own JavaScript context.
 */
public final class ScriptHook implements Hook {
    private final ContextManager contexts;
    private final Map<String, ?> givenConfig;
    private final AtomicReference<Version> current;
    private final AttributeKey<Version> pinned;
    private final BreakerState breaker;

    /** One compiled plugin with its completed config, and which phases it exports. Immutable. */
    static final class Version {
        final HookSpec spec;
        final Map<String, Object> config;
        final boolean request;
        final boolean upstream;
        final boolean response;
        final boolean log;
        final boolean connect;
        final Set<Phase> phases;

        Version(HookSpec spec, Map<String, Object> config) {
            this.spec = spec;
            this.config = config;
            var phases = spec.plugin().phases();
            this.phases = Collections.unmodifiableSet(
                    phases.isEmpty() ? EnumSet.noneOf(Phase.class) : EnumSet.copyOf(phases));
            this.request = phases.contains(Phase.REQUEST);
            this.upstream = phases.contains(Phase.UPSTREAM);
            this.response = phases.contains(Phase.RESPONSE);
            this.log = phases.contains(Phase.LOG);
            this.connect = phases.contains(Phase.CONNECT);
        }
    }

    ScriptHook(
            HookSpec spec,
            ContextManager contexts,
            Map<String, ?> givenConfig,
            Map<String, Object> config,
            PluginBreaker breaker) {
        this.contexts = contexts;
        this.breaker = breaker.enabled() ? contexts.breakerState(spec.plugin().name(), breaker) : null;
        this.givenConfig = givenConfig;
        this.current = new AtomicReference<>(new Version(spec, config));
        this.pinned = AttributeKey.of("script hook " + spec.plugin().name(), Version.class);
    }

    /** The plugin's name, as used in logs and metrics. */
    @Override
    public String name() {
        return current.get().spec.plugin().name();
    }

    /**
     * The phases the plugin version in use exports a function for ({@code onRequest} &rarr; {@link Phase#REQUEST},
     * ...): the engine calls this hook in no other phase. A reload that adds or drops a phase function changes it for
     * the exchanges that start after it.
     */
    @Override
    public Set<Phase> phases() {
        return current.get().phases;
    }

    /** The breaker guarding this attachment ({@link PluginBreaker#off()} when none). */
    public PluginBreaker breaker() {
        return breaker == null ? PluginBreaker.off() : breaker.settings();
    }

    /** The plugin version in use now (the latest one that loaded successfully). */
    public Plugin plugin() {
        return current.get().spec.plugin();
    }

    /** The validated configuration with defaults applied: what scripts receive as {@code cfg} (frozen). */
    public Map<String, Object> config() {
        return current.get().config;
    }

    /** The configuration as given to {@link ScriptRuntime#hook(Plugin, Map)}, before defaults; reloads re-check it. */
    Map<String, ?> givenConfig() {
        return givenConfig;
    }

    /** Makes {@code spec} with {@code config} the version new exchanges run; exchanges already pinned keep theirs. */
    void swap(HookSpec spec, Map<String, Object> config) {
        current.set(new Version(spec, config));
    }

    private Version version(Exchange exchange) {
        Version v = exchange.get(pinned);
        if (v == null) {
            v = current.get();
            exchange.set(pinned, v);
        }
        return v;
    }

    /**
     * Runs {@code onConnect(conn, cfg)} if exported, for a connection of a TCP listener. One call per connection, so
     * no version pinning is needed: it runs the version current at that moment.
     */
    @Override
    public ConnectResult onConnect(Connection connection) {
        Version v = current.get();
        if (!v.connect) {
            return ConnectResult.proceed();
        }
        BreakerState b = breaker;
        if (b != null && b.openNanos() > 0) {
            return b.settings().failOpen() ? ConnectResult.proceed() : ConnectResult.reject();
        }
        try {
            ConnectResult r = contexts.callConnect(v.spec, connection);
            if (b != null && r instanceof ConnectResult.Later later) {
                later.stage().whenComplete((x, error) -> settled(b, error));
            } else if (b != null) {
                b.success();
            }
            return r;
        } catch (ScriptException e) {
            overran(b, e);
            throw e;
        }
    }

    /** Calls the phase function unless the breaker is open; records overruns and successes. */
    private HookResult run(Version v, Phase phase, Exchange exchange) {
        BreakerState b = breaker;
        if (b != null) {
            long open = b.openNanos();
            if (open > 0) {
                return b.settings().failOpen() || phase == Phase.LOG ? HookResult.proceed() : unavailable(open);
            }
        }
        try {
            HookResult r = contexts.call(v.spec, phase, exchange);
            if (b != null && r instanceof HookResult.Later later) {
                later.stage().whenComplete((x, error) -> settled(b, error));
            } else if (b != null) {
                b.success();
            }
            return r;
        } catch (ScriptException e) {
            overran(b, e);
            throw e;
        }
    }

    /** An async call settled: an overrun in any of its slices, or its await timeout, counts as a synchronous one. */
    private static void settled(BreakerState b, Throwable error) {
        Throwable e = error instanceof java.util.concurrent.CompletionException c && c.getCause() != null
                ? c.getCause()
                : error;
        if (e == null) {
            b.success();
        } else if (e instanceof ScriptException se) {
            overran(b, se);
        }
    }

    private static void overran(BreakerState b, ScriptException e) {
        if (b != null
                && (e.kind() == ScriptException.Kind.TIMED_OUT || e.kind() == ScriptException.Kind.BUDGET_EXCEEDED)) {
            b.overrun();
        }
    }

    private HookResult unavailable(long openNanos) {
        long seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(openNanos + 999_999_999L));
        return HookResult.respond(new LocalResponse(
                503,
                List.of(
                        Map.entry("content-type", "text/plain; charset=utf-8"),
                        Map.entry("retry-after", Long.toString(seconds))),
                ("503 plugin " + name() + " unavailable\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** Runs {@code onRequest(ex, cfg)} if exported. */
    @Override
    public HookResult onRequest(Exchange exchange) {
        Version v = version(exchange);
        return v.request ? run(v, Phase.REQUEST, exchange) : HookResult.proceed();
    }

    /** Runs {@code onUpstream(ex, cfg)} if exported. */
    @Override
    public HookResult onUpstream(Exchange exchange) {
        Version v = version(exchange);
        return v.upstream ? run(v, Phase.UPSTREAM, exchange) : HookResult.proceed();
    }

    /** Runs {@code onResponse(ex, cfg)} if exported. */
    @Override
    public HookResult onResponse(Exchange exchange) {
        Version v = version(exchange);
        return v.response ? run(v, Phase.RESPONSE, exchange) : HookResult.proceed();
    }

    /** Runs {@code onLog(ex, cfg)} if exported; its return value is ignored. */
    @Override
    public void onLog(Exchange exchange) {
        Version v = version(exchange);
        if (v.log) {
            run(v, Phase.LOG, exchange);
        }
    }

    @Override
    public String toString() {
        Version v = current.get();
        return "ScriptHook(" + v.spec.plugin().name() + " " + v.spec.plugin().version() + ", config " + v.config + ")";
    }
}
