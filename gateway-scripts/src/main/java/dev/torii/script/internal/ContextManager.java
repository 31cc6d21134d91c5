package dev.torii.script.internal;

import dev.torii.Exchange;
import dev.torii.HookResult;
import dev.torii.Phase;
import dev.torii.script.Plugin;
import dev.torii.script.PluginException;
import dev.torii.script.ScriptException;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.Connection;
import io.netty.util.concurrent.FastThreadLocal;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.EnvironmentAccess;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotAccess;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.ResourceLimits;
import org.graalvm.polyglot.SandboxPolicy;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.io.IOAccess;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GraalJS side of a script runtime: one shared {@link Engine}, one sandboxed {@link Context} per calling thread,
 * and the watchdog that enforces each call's deadline.
 *
 * <h2>Contexts</h2>
 *
 * A context is single-threaded, and a hook is always called on its exchange's event loop, so each thread gets its own
 * context, created on first use and kept in a {@link FastThreadLocal}. Contexts share the engine, so a plugin is
 * parsed and JIT-compiled once for all of them. A context whose call was cancelled (statement limit, or a deadline
 * the interrupt could not enforce) is dead; the next call on that thread replaces it.
 *
 * <h2>Budgets</h2>
 *
 * Every call gets a fresh statement budget ({@link Context#resetLimits()}) and a wall-clock deadline. The watchdog
 * thread wakes every few milliseconds and interrupts ({@link Context#interrupt}) a context whose call is past its
 * deadline; an interrupted context stays usable. Interrupting must never hit the next, innocent call of the same
 * context, so the two threads follow a small protocol on {@link ThreadContext#state}: the event loop moves it
 * IDLE&rarr;RUNNING when a call begins and RUNNING&rarr;IDLE when it ends; the watchdog moves it
 * RUNNING&rarr;INTERRUPTING, re-checks that the call sequence number is still the one whose deadline it read (else
 * it backs off), interrupts, and moves it back. An event loop that finds INTERRUPTING at the end of a call waits
 * for the watchdog (the interrupt returns as soon as the thread has left the context, which it has).
 *
 * <p>Thread-safe.
 */
public final class ContextManager implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ContextManager.class);
    private static final long BIND_TIMEOUT_NANOS = 10_000_000_000L;
    /**
     * The deadline of a function's first call in a context: it parses the function's body (GraalJS parses lazily),
     * resolves the host members it touches and runs in the interpreter, which on a cold event loop under load took
     * longer than a whole budget (issue 9). Loops are still stopped by the statement limit, which is not relaxed.
     */
    private static final long FIRST_CALL_TIMEOUT_NANOS = 2_000_000_000L;

    private static final Set<String> PHASE_FUNCTIONS =
            Set.of("onConnect", "onRequest", "onUpstream", "onResponse", "onLog");

    private final Engine engine;
    private final Source prelude;
    private final long statementLimit;
    private final long timeoutNanos;
    private final Duration timeout;
    private final SharedZones zones;
    private final RateLimiters limiters;
    private final TimeSource time;
    private final ToriiBridge.LogSink sink;
    private final BooleanSupplier maintenance;
    private final FastThreadLocal<ThreadContext> local = new FastThreadLocal<>();
    private final List<ThreadContext> all = new CopyOnWriteArrayList<>();
    private final Thread watchdog;
    private volatile boolean closed;
    /** What {@code torii.dns.resolve} asks; null: no DNS cache, the function fails saying so. */
    private volatile java.util.function.Supplier<dev.torii.dns.DnsCache> dns = () -> null;
    /** How long an {@code async} hook's Promise may stay pending (see {@link AsyncCall}). */
    private volatile long awaitTimeoutNanos = DEFAULT_AWAIT_TIMEOUT_NANOS;

    /** The default of {@link #awaitTimeout}: longer than a DNS lookup's attempts with their timeouts. */
    public static final long DEFAULT_AWAIT_TIMEOUT_NANOS = 10_000_000_000L;

    final LongAdder failures = new LongAdder();
    final LongAdder timeouts = new LongAdder();
    final LongAdder budgets = new LongAdder();
    final LongAdder created = new LongAdder();
    final LongAdder replaced = new LongAdder();
    final LongAdder breakerTrips = new LongAdder();
    final LongAdder shortCircuited = new LongAdder();
    /** By plugin name: names come from the plugins this runtime loaded, so the map stays as small as the config. */
    private final java.util.concurrent.ConcurrentHashMap<String, PluginCounters> byPlugin =
            new java.util.concurrent.ConcurrentHashMap<>();

    public ContextManager(
            long statementLimit,
            Duration timeout,
            SharedZones zones,
            RateLimiters limiters,
            TimeSource time,
            ToriiBridge.LogSink sink,
            BooleanSupplier maintenance) {
        this.statementLimit = statementLimit;
        this.maintenance = maintenance;
        this.timeout = timeout;
        this.timeoutNanos = timeout.toNanos();
        this.zones = zones;
        this.limiters = limiters;
        this.time = time;
        this.sink = sink;
        this.engine = Engine.newBuilder("js")
                .sandbox(SandboxPolicy.CONSTRAINED)
                .out(OutputStream.nullOutputStream())
                .err(OutputStream.nullOutputStream())
                // We say ourselves whether the JIT is on (ScriptRuntime logs it once); the engine's own warning
                // would go to stderr of whoever embeds us.
                .option("engine.WarnInterpreterOnly", "false")
                .logHandler(new Slf4jHandler())
                .build();
        this.prelude = Source.newBuilder("js", resource("prelude.js"), "torii-prelude.js")
                .buildLiteral();
        long tick = Math.clamp(timeoutNanos / 4, 1_000_000L, 10_000_000L);
        this.watchdog =
                Thread.ofPlatform().name("torii-script-watchdog").daemon().unstarted(() -> watch(tick));
        watchdog.start();
    }

    private static String resource(String name) {
        try (InputStream in = ContextManager.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the gateway-scripts jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("reading " + name + ": " + e.getMessage(), e);
        }
    }

    /** The engine's implementation name: {@code Interpreted} without the optimizing runtime. */
    public String implementationName() {
        return engine.getImplementationName();
    }

    /** The GraalJS version. */
    public String version() {
        // The engine calls jars built from a release tag "Development Build"; the polyglot jar's manifest knows better.
        String v = Engine.class.getPackage().getImplementationVersion();
        return v != null ? v : engine.getVersion();
    }

    /** Whether the optimizing Truffle runtime (the JIT) is on. */
    public boolean jitEnabled() {
        return !"Interpreted".equals(engine.getImplementationName());
    }

    public long statementLimit() {
        return statementLimit;
    }

    public Duration timeout() {
        return timeout;
    }

    /** The counters, with {@code sharedEvictions} from the shared zones. */
    public dev.torii.script.ScriptStats stats(long sharedEvictions) {
        return new dev.torii.script.ScriptStats(
                failures.sum(),
                timeouts.sum(),
                budgets.sum(),
                created.sum(),
                replaced.sum(),
                sharedEvictions,
                breakerTrips.sum(),
                shortCircuited.sum());
    }

    /** The DNS cache {@code torii.dns.resolve} asks (null: none; resolving then fails with code NO_CACHE). */
    public void dnsCache(java.util.function.Supplier<dev.torii.dns.DnsCache> cache) {
        this.dns = cache == null ? () -> null : cache;
    }

    dev.torii.dns.DnsCache dnsCache() {
        return dns.get();
    }

    /** How long an {@code async} hook's Promise may stay pending before the call fails as TIMED_OUT. */
    public void awaitTimeout(Duration timeout) {
        this.awaitTimeoutNanos = timeout.toNanos();
    }

    long awaitTimeoutNanos() {
        return awaitTimeoutNanos;
    }

    /** A breaker for one attachment of {@code plugin}, counting into this manager's stats. */
    public BreakerState breakerState(String plugin, dev.torii.script.PluginBreaker settings) {
        return new BreakerState(
                plugin, settings, System::nanoTime, breakerTrips, shortCircuited, counters(plugin).breakerTrips);
    }

    /** The counters of plugin {@code name}, made on first use. */
    public PluginCounters counters(String name) {
        PluginCounters c = byPlugin.get(name);
        return c != null ? c : byPlugin.computeIfAbsent(name, n -> new PluginCounters());
    }

    /** A snapshot of every plugin's counters, by name in order. */
    public java.util.SortedMap<String, dev.torii.script.PluginStats> pluginStats() {
        var m = new java.util.TreeMap<String, dev.torii.script.PluginStats>();
        byPlugin.forEach((name, c) -> m.put(name, c.snapshot()));
        return m;
    }

    // --- Contexts ---------------------------------------------------------------------------------------------------

    private ThreadContext current() {
        if (closed) {
            throw new IllegalStateException("the script runtime is closed");
        }
        ThreadContext tc = local.get();
        if (tc != null && !tc.dead) {
            return tc;
        }
        if (tc != null) {
            retire(tc);
            replaced.increment();
        }
        tc = newContext();
        local.set(tc);
        return tc;
    }

    private ThreadContext newContext() {
        Context c = Context.newBuilder("js")
                .engine(engine)
                .sandbox(SandboxPolicy.CONSTRAINED)
                .out(OutputStream.nullOutputStream())
                .err(OutputStream.nullOutputStream())
                .allowHostAccess(HostAccess.CONSTRAINED) // only @HostAccess.Export members of our bridges
                // No allowHostClassLookup at all: even a predicate that refuses everything defines the Java global.
                .allowIO(IOAccess.NONE)
                .allowCreateThread(false)
                .allowNativeAccess(false)
                .allowCreateProcess(false)
                .allowPolyglotAccess(PolyglotAccess.NONE)
                .allowEnvironmentAccess(EnvironmentAccess.NONE)
                .option("js.esm-eval-returns-exports", "true")
                .option("js.load", "false")
                .option("js.print", "false")
                .option("js.graal-builtin", "false")
                .option("js.console", "false")
                .resourceLimits(ResourceLimits.newBuilder()
                        .statementLimit(statementLimit, null)
                        .build())
                .build();
        try {
            var tc = new ThreadContext(c, zones, time, sink, maintenance);
            Value entry = c.eval(prelude).execute(tc.torii);
            tc.invoke = entry.getMember("invoke");
            tc.connect = entry.getMember("connect");
            tc.config = entry.getMember("config");
            tc.settle = entry.getMember("settle");
            tc.manager = this;
            created.increment();
            all.add(tc);
            return tc;
        } catch (RuntimeException e) {
            c.close(true);
            throw e;
        }
    }

    private void retire(ThreadContext tc) {
        all.remove(tc);
        try {
            tc.context.close(true);
        } catch (RuntimeException e) {
            // A cancelled context rethrows its cancellation on close; it is closed all the same.
        }
    }

    // --- Calls ------------------------------------------------------------------------------------------------------

    /**
     * Calls {@code spec}'s function for {@code phase} on {@code exchange} in this thread's context.
     *
     * @throws ScriptException when the function throws, runs past a budget or returns something invalid
     */
    public HookResult call(HookSpec spec, Phase phase, Exchange exchange) {
        ThreadContext tc = current();
        JsExchange h = new JsExchange(exchange, phase, tc, spec, limiters);
        begin(tc, spec);
        tc.executor = exchange.executor();
        boolean pending = false;
        try {
            ThreadContext.Bound b = tc.bound(spec.id());
            if (b == null) {
                // Evaluating the module runs once per context, often in a cold JVM: it gets a longer deadline, and
                // the call its own afterwards.
                tc.deadline = System.nanoTime() + Math.max(timeoutNanos, BIND_TIMEOUT_NANOS);
                b = bind(tc, spec);
                tc.context.resetLimits();
                tc.deadline = System.nanoTime() + timeoutNanos;
            }
            Value fn = b.functions()[phase.ordinal()];
            if (fn == null) {
                return HookResult.proceed();
            }
            counters(spec.plugin().name()).calls.increment();
            firstCall(tc, b, phase);
            tc.phase = phase;
            Value r = tc.invoke.execute(fn, h, b.config());
            if (phase != Phase.LOG && isPromise(r)) {
                AsyncCall async = async(tc, spec, phase);
                async.await(r, v -> result(spec, phase, h, v), h::finish, awaitTimeoutNanos);
                pending = true;
                return later(async, HookResult.class, HookResult::later);
            }
            return result(spec, phase, h, r);
        } catch (PolyglotException e) {
            throw failure(tc, spec, HookSpec.functionName(phase), e);
        } finally {
            if (!pending) {
                h.finish();
            }
            end(tc);
        }
    }

    /**
     * Calls {@code spec}'s {@code onConnect(conn, cfg)} on {@code connection} in this thread's context: nothing returned
     * proceeds, {@code conn.reject()} rejects.
     *
     * @throws ScriptException when the function throws, runs past a budget or returns something invalid
     */
    public ConnectResult callConnect(HookSpec spec, Connection connection) {
        ThreadContext tc = current();
        JsConnection h = new JsConnection(connection, spec, limiters);
        begin(tc, spec);
        tc.executor = connection.executor();
        boolean pending = false;
        try {
            ThreadContext.Bound b = tc.bound(spec.id());
            if (b == null) {
                tc.deadline = System.nanoTime() + Math.max(timeoutNanos, BIND_TIMEOUT_NANOS);
                b = bind(tc, spec);
                tc.context.resetLimits();
                tc.deadline = System.nanoTime() + timeoutNanos;
            }
            Value fn = b.functions()[Phase.CONNECT.ordinal()];
            if (fn == null) {
                return ConnectResult.proceed();
            }
            counters(spec.plugin().name()).calls.increment();
            firstCall(tc, b, Phase.CONNECT);
            tc.phase = Phase.CONNECT;
            Value r = tc.connect.execute(fn, h, b.config());
            if (isPromise(r)) {
                AsyncCall async = async(tc, spec, Phase.CONNECT);
                async.await(r, v -> connectResult(spec, h, v), h::finish, awaitTimeoutNanos);
                pending = true;
                return later(async, ConnectResult.class, ConnectResult::later);
            }
            return connectResult(spec, h, r);
        } catch (PolyglotException e) {
            throw failure(tc, spec, "onConnect", e);
        } finally {
            if (!pending) {
                h.finish();
            }
            end(tc);
        }
    }

    private ConnectResult connectResult(HookSpec spec, JsConnection h, Value r) {
        if (r.isNull() || r.isHostObject() && r.asHostObject() instanceof JsConnection.Rejection rj && rj.owner == h) {
            return h.rejected() ? ConnectResult.reject() : ConnectResult.proceed();
        }
        failures.increment();
        counters(spec.plugin().name()).failures.increment();
        String what = r.isHostObject() ? "a rejection made by another call" : describe(r);
        throw new ScriptException(
                ScriptException.Kind.INVALID_RESULT,
                spec.plugin().name(),
                spec.plugin().scriptName(),
                "plugin " + spec.plugin().name() + ": onConnect in "
                        + spec.plugin().scriptName() + " returned " + what
                        + " (expected: nothing to go on, or the value of conn.reject())",
                null);
    }

    // --- Async hooks ------------------------------------------------------------------------------------------------

    private static boolean isPromise(Value r) {
        return r.hasMembers()
                && r.getMetaObject() != null
                && "Promise".equals(r.getMetaObject().getMetaSimpleName());
    }

    /** The call's {@link AsyncCall}: the one {@code torii.dns.resolve} made during this slice, or a new one. */
    private AsyncCall async(ThreadContext tc, HookSpec spec, Phase phase) {
        AsyncCall a = tc.call;
        return a != null ? a : new AsyncCall(this, tc, spec, phase, tc.executor);
    }

    /** The call in progress on this context, made on first use (by {@code torii.dns.resolve}). */
    AsyncCall currentCall(ThreadContext tc) {
        if (tc.call == null) {
            tc.call = new AsyncCall(this, tc, tc.spec, tc.phase, tc.executor);
        }
        return tc.call;
    }

    /** The result now when the Promise settled during the call itself (a cache hit), else a later one. */
    private static <R> R later(
            AsyncCall async,
            Class<R> type,
            java.util.function.Function<java.util.concurrent.CompletionStage<R>, R> later) {
        var f = async.settled;
        if (f.isDone() && !f.isCompletedExceptionally()) {
            return type.cast(f.join());
        }
        if (f.isCompletedExceptionally()) {
            try {
                f.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof ScriptException se) {
                    throw se;
                }
                throw e;
            }
        }
        return later.apply(f.thenApply(type::cast));
    }

    /** Enters {@code tc} for a later slice of an async call: fresh budgets, the call's plugin and phase. */
    void beginSlice(ThreadContext tc, HookSpec spec, Phase phase, AsyncCall call) {
        begin(tc, spec);
        tc.phase = phase;
        tc.call = call;
        // The code after an await is parsed and run cold on its first resumption in a context, as a first call is.
        ThreadContext.Bound b = tc.bound(spec.id());
        int first = Phase.values().length + phase.ordinal();
        if (b != null && !b.called()[first]) {
            b.called()[first] = true;
            tc.deadline = System.nanoTime() + Math.max(timeoutNanos, FIRST_CALL_TIMEOUT_NANOS);
        }
    }

    void endSlice(ThreadContext tc) {
        end(tc);
    }

    /** Gives the first call of a function in this context the longer first-call deadline. */
    private void firstCall(ThreadContext tc, ThreadContext.Bound b, Phase phase) {
        if (!b.called()[phase.ordinal()]) {
            b.called()[phase.ordinal()] = true;
            tc.deadline = System.nanoTime() + Math.max(timeoutNanos, FIRST_CALL_TIMEOUT_NANOS);
        }
    }

    private void begin(ThreadContext tc, HookSpec spec) {
        tc.spec = spec;
        tc.phase = null;
        tc.context.resetLimits();
        tc.timedOut = false;
        tc.seq = tc.seq + 1; // single writer: this thread
        tc.deadline = System.nanoTime() + timeoutNanos;
        tc.state.set(ThreadContext.RUNNING);
    }

    private static void end(ThreadContext tc) {
        tc.call = null;
        if (!tc.state.compareAndSet(ThreadContext.RUNNING, ThreadContext.IDLE)) {
            while (tc.state.get() == ThreadContext.INTERRUPTING) {
                Thread.onSpinWait();
            }
            tc.state.set(ThreadContext.IDLE);
        }
        tc.phase = null;
        tc.spec = null;
    }

    /** Evaluates the plugin's module in this context (once per plugin) and binds the hook's functions and config. */
    private ThreadContext.Bound bind(ThreadContext tc, HookSpec spec) {
        Plugin plugin = spec.plugin();
        Value ns = tc.modules.get(plugin);
        if (ns == null) {
            ns = tc.context.eval(spec.source());
            tc.modules.put(plugin, ns);
        }
        Value[] fns = new Value[Phase.values().length];
        for (Phase p : plugin.phases()) {
            Value f = ns.getMember(HookSpec.functionName(p));
            fns[p.ordinal()] = f != null && f.canExecute() ? f : null;
        }
        // called: [phase] first call done, [phases + phase] first async resumption done (see beginSlice).
        var b = new ThreadContext.Bound(fns, tc.config.execute(spec.configJson()), new boolean[2 * fns.length]);
        tc.bind(spec.id(), b);
        return b;
    }

    private HookResult result(HookSpec spec, Phase phase, JsExchange h, Value r) {
        if (phase == Phase.LOG || r.isNull()) {
            return HookResult.proceed();
        }
        if (r.isHostObject() && r.asHostObject() instanceof JsExchange.Reply reply && h.owns(reply)) {
            return HookResult.respond(reply.response());
        }
        failures.increment();
        counters(spec.plugin().name()).failures.increment();
        String fn = HookSpec.functionName(phase);
        String what = r.isHostObject() ? "a reply made by another call" : describe(r);
        throw new ScriptException(
                ScriptException.Kind.INVALID_RESULT,
                spec.plugin().name(),
                spec.plugin().scriptName(),
                "plugin " + spec.plugin().name() + ": " + fn + " in "
                        + spec.plugin().scriptName() + " returned " + what
                        + " (expected: nothing to go on, or the value of ex.respond() or ex.redirect())",
                null);
    }

    private static String describe(Value r) {
        String s = r.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    ScriptException failure(ThreadContext tc, HookSpec spec, String fn, PolyglotException e) {
        failures.increment();
        String where = location(spec.plugin(), e);
        String name = spec.plugin().name();
        PluginCounters counters = counters(name);
        counters.failures.increment();
        String head = "plugin " + name + ": " + fn;
        if (e.isResourceExhausted()) {
            tc.dead = true;
            budgets.increment();
            counters.budgets.increment();
            return new ScriptException(
                    ScriptException.Kind.BUDGET_EXCEEDED,
                    name,
                    where,
                    head + " ran past its statement limit of " + statementLimit + " at " + where
                            + " (its context is replaced)",
                    e);
        }
        if (e.isCancelled()) {
            tc.dead = true;
        }
        if (e.isInterrupted() || e.isCancelled()) {
            timeouts.increment();
            counters.timeouts.increment();
            return new ScriptException(
                    ScriptException.Kind.TIMED_OUT,
                    name,
                    where,
                    head + " ran past its deadline of " + timeout.toMillis() + "ms at " + where,
                    e);
        }
        if (e.isHostException()) {
            Throwable t = e.asHostException();
            return new ScriptException(
                    ScriptException.Kind.THREW, name, where, head + " failed at " + where + ": " + t.getMessage(), e);
        }
        return new ScriptException(
                ScriptException.Kind.THREW, name, where, head + " threw at " + where + ": " + e.getMessage(), e);
    }

    /** {@code FILE:LINE:COLUMN} of the innermost frame in the plugin's script, else its name. */
    static String location(Plugin plugin, PolyglotException e) {
        for (PolyglotException.StackFrame f : e.getPolyglotStackTrace()) {
            var s = f.getSourceLocation();
            if (f.isGuestFrame()
                    && s != null
                    && plugin.scriptName().equals(s.getSource().getName())) {
                return plugin.scriptName() + ":" + s.getStartLine() + ":" + s.getStartColumn();
            }
        }
        var s = e.getSourceLocation();
        if (s != null && plugin.scriptName().equals(s.getSource().getName())) {
            return plugin.scriptName() + ":" + s.getStartLine() + ":" + s.getStartColumn();
        }
        return plugin.scriptName();
    }

    // --- Loading ----------------------------------------------------------------------------------------------------

    /**
     * Evaluates {@code plugin}'s module once in a fresh context of this thread, under the same budgets, and returns the
     * phases it exports a function for; the context is then closed.
     *
     * @throws PluginException naming {@code FILE:LINE:COLUMN} for a syntax error, a top-level throw, or a malformed
     *     export
     */
    public Set<Phase> probe(Plugin plugin, Source source) {
        ThreadContext tc = newContext();
        var spec = HookSpec.of(-1, plugin, source, "{}");
        begin(tc, spec);
        // Module evaluation, as when binding: a cold parse must not fail a load that the call budget would.
        tc.deadline = System.nanoTime() + Math.max(timeoutNanos, BIND_TIMEOUT_NANOS);
        try {
            Value ns = tc.context.eval(source);
            Set<Phase> phases = EnumSet.noneOf(Phase.class);
            for (String k : ns.getMemberKeys()) {
                Value v = ns.getMember(k);
                if (PHASE_FUNCTIONS.contains(k)) {
                    if (!v.canExecute()) {
                        throw new PluginException(plugin.scriptName() + ": export " + k + " is " + v
                                + " (expected: a function " + k + "(ex, cfg))");
                    }
                    phases.add(phaseOf(k));
                } else if (k.startsWith("on") && k.length() > 2 && Character.isUpperCase(k.charAt(2))
                        || k.equalsIgnoreCase("onrequest")
                        || k.equalsIgnoreCase("onupstream")
                        || k.equalsIgnoreCase("onresponse")
                        || k.equalsIgnoreCase("onlog")
                        || k.equalsIgnoreCase("onconnect")) {
                    throw new PluginException(plugin.scriptName() + ": export " + k
                            + " is not a phase function (expected one of: onConnect, onRequest, onUpstream, onResponse,"
                            + " onLog)");
                }
            }
            if (phases.isEmpty()) {
                throw new PluginException(plugin.scriptName()
                        + ": exports no phase function (expected at least one of: onConnect, onRequest, onUpstream,"
                        + " onResponse, onLog)");
            }
            return phases;
        } catch (PolyglotException e) {
            if (e.isSyntaxError()) {
                var s = e.getSourceLocation();
                String where = s == null
                        ? plugin.scriptName()
                        : plugin.scriptName() + ":" + s.getStartLine() + ":" + s.getStartColumn();
                String msg = e.getMessage();
                int nl = msg.indexOf('\n');
                String first = nl < 0 ? msg : msg.substring(0, nl);
                // GraalJS says "SyntaxError: FILE:LINE:COLUMN what"; keep "what" after our own FILE:LINE:COLUMN.
                int at = first.indexOf(plugin.scriptName() + ":");
                if (at >= 0) {
                    int space = first.indexOf(' ', at);
                    first = "SyntaxError: " + (space < 0 ? "" : first.substring(space + 1));
                }
                throw new PluginException(where + ": " + first, e);
            }
            ScriptException se = failure(tc, spec, "module evaluation", e);
            throw new PluginException(se.getMessage(), e);
        } finally {
            end(tc);
            retire(tc);
        }
    }

    private static Phase phaseOf(String function) {
        return switch (function) {
            case "onRequest" -> Phase.REQUEST;
            case "onUpstream" -> Phase.UPSTREAM;
            case "onResponse" -> Phase.RESPONSE;
            case "onConnect" -> Phase.CONNECT;
            default -> Phase.LOG;
        };
    }

    // --- Watchdog ---------------------------------------------------------------------------------------------------

    private void watch(long tickNanos) {
        while (!closed) {
            LockSupport.parkNanos(tickNanos);
            long now = System.nanoTime();
            for (ThreadContext tc : all) {
                if (tc.state.get() != ThreadContext.RUNNING) {
                    continue;
                }
                long seq = tc.seq;
                if (now - tc.deadline < 0
                        || !tc.state.compareAndSet(ThreadContext.RUNNING, ThreadContext.INTERRUPTING)) {
                    continue;
                }
                if (tc.seq != seq) {
                    tc.state.set(ThreadContext.RUNNING); // a new call began: its deadline is not ours to enforce
                    continue;
                }
                tc.timedOut = true;
                try {
                    tc.context.interrupt(Duration.ofSeconds(1));
                } catch (TimeoutException e) {
                    // Not interruptible (e.g. inside a long builtin): cancel; the context is replaced.
                    tc.dead = true;
                    try {
                        tc.context.close(true);
                    } catch (RuntimeException ignored) {
                        // closing a cancelled context rethrows the cancellation
                    }
                } catch (RuntimeException e) {
                    log.debug("interrupting a script context failed: {}", e.toString());
                } finally {
                    // Never again for this call: the event loop may be past the guest code already, and setting IDLE
                    // unconditionally once it sees the state leave INTERRUPTING.
                    tc.deadline = System.nanoTime() + (Long.MAX_VALUE >> 1);
                    tc.state.set(ThreadContext.RUNNING);
                }
            }
        }
    }

    /** Closes every context (cancelling calls in progress) and the engine. */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(watchdog);
        for (ThreadContext tc : all) {
            retire(tc);
        }
        try {
            engine.close(true);
        } catch (RuntimeException e) {
            log.debug("closing the script engine: {}", e.toString());
        }
    }

    /** Sends the engine's own log records (compilation failures and the like) to SLF4J. */
    private static final class Slf4jHandler extends Handler {
        private static final Logger engineLog = LoggerFactory.getLogger("torii.script.engine");

        @Override
        public void publish(LogRecord r) {
            String msg = "[" + r.getLoggerName() + "] " + r.getMessage();
            if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                engineLog.warn(msg);
            } else if (r.getLevel().intValue() >= Level.INFO.intValue()) {
                engineLog.info(msg);
            } else {
                engineLog.debug(msg);
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
