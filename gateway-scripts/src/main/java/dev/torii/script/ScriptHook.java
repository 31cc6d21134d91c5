package dev.torii.script;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Phase;
import dev.torii.script.internal.ContextManager;
import dev.torii.script.internal.HookSpec;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.Connection;
import java.util.Map;
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

    /** One compiled plugin with its completed config, and which phases it exports. Immutable. */
    static final class Version {
        final HookSpec spec;
        final Map<String, Object> config;
        final boolean request;
        final boolean upstream;
        final boolean response;
        final boolean log;
        final boolean connect;

        Version(HookSpec spec, Map<String, Object> config) {
            this.spec = spec;
            this.config = config;
            var phases = spec.plugin().phases();
            this.request = phases.contains(Phase.REQUEST);
            this.upstream = phases.contains(Phase.UPSTREAM);
            this.response = phases.contains(Phase.RESPONSE);
            this.log = phases.contains(Phase.LOG);
            this.connect = phases.contains(Phase.CONNECT);
        }
    }

    ScriptHook(HookSpec spec, ContextManager contexts, Map<String, ?> givenConfig, Map<String, Object> config) {
        this.contexts = contexts;
        this.givenConfig = givenConfig;
        this.current = new AtomicReference<>(new Version(spec, config));
        this.pinned = AttributeKey.of("script hook " + spec.plugin().name(), Version.class);
    }

    /** The plugin's name, as used in logs and metrics. */
    @Override
    public String name() {
        return current.get().spec.plugin().name();
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
        return v.connect ? contexts.callConnect(v.spec, connection) : ConnectResult.proceed();
    }

    /** Runs {@code onRequest(ex, cfg)} if exported. */
    @Override
    public HookResult onRequest(Exchange exchange) {
        Version v = version(exchange);
        return v.request ? contexts.call(v.spec, Phase.REQUEST, exchange) : HookResult.proceed();
    }

    /** Runs {@code onUpstream(ex, cfg)} if exported. */
    @Override
    public HookResult onUpstream(Exchange exchange) {
        Version v = version(exchange);
        return v.upstream ? contexts.call(v.spec, Phase.UPSTREAM, exchange) : HookResult.proceed();
    }

    /** Runs {@code onResponse(ex, cfg)} if exported. */
    @Override
    public HookResult onResponse(Exchange exchange) {
        Version v = version(exchange);
        return v.response ? contexts.call(v.spec, Phase.RESPONSE, exchange) : HookResult.proceed();
    }

    /** Runs {@code onLog(ex, cfg)} if exported; its return value is ignored. */
    @Override
    public void onLog(Exchange exchange) {
        Version v = version(exchange);
        if (v.log) {
            contexts.call(v.spec, Phase.LOG, exchange);
        }
    }

    @Override
    public String toString() {
        Version v = current.get();
        return "ScriptHook(" + v.spec.plugin().name() + " " + v.spec.plugin().version() + ", config " + v.config + ")";
    }
}
