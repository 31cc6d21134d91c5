package dev.torii.script.internal;

import dev.torii.Phase;
import dev.torii.script.ScriptException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Value;

/**
 * One phase call of an {@code async} hook (a function returning a Promise): the JS side of
 * {@code HookResult.later}. The call returns a pending Promise; the engine gets a stage that completes when the
 * Promise settles, and the exchange (or TCP connection) waits for it on its event loop.
 *
 * <p>The Promise settles through work the call started, such as {@code torii.dns.resolve}: when that work completes
 * (on whatever thread), its continuation is run through {@link #resume} on the event loop that made the call, in the
 * same context, as a fresh slice of the same call: a fresh statement budget and deadline, the call's phase and plugin,
 * its {@code ex} still usable. So the budgets apply to every slice, and a slice that overruns fails the stage as a
 * synchronous call would fail (counted by the plugin's breaker). The whole wait is bounded too: a Promise that has not
 * settled {@code awaitTimeout} after the call began fails the stage as TIMED_OUT, and later continuations are dropped.
 * No exchange is ever left waiting.
 *
 * <p>Confined to the event loop of the call (its {@code settled} stage may be read anywhere).
 */
public final class AsyncCall {
    private final ContextManager manager;
    private final ThreadContext tc;
    private final HookSpec spec;
    private final Phase phase;
    private final Executor executor;
    /** The stage the engine waits on: the hook's result, or a {@link ScriptException}. */
    final CompletableFuture<Object> settled = new CompletableFuture<>();

    private Function<Value, Object> convert;
    private Runnable finish;
    private ScheduledFuture<?> timer;

    AsyncCall(ContextManager manager, ThreadContext tc, HookSpec spec, Phase phase, Executor executor) {
        this.manager = manager;
        this.tc = tc;
        this.spec = spec;
        this.phase = phase;
        this.executor = executor;
    }

    /**
     * Waits for {@code promise}: {@code convert} turns its value into the hook's result (or throws a
     * {@link ScriptException}), {@code finish} ends the call's {@code ex} or {@code conn} once it has settled. Called
     * once, inside the call's first slice.
     */
    void await(Value promise, Function<Value, Object> convert, Runnable finish, long awaitTimeoutNanos) {
        this.convert = convert;
        this.finish = finish;
        tc.settle.execute(promise, this);
        if (!settled.isDone() && executor instanceof ScheduledExecutorService s) {
            try {
                timer = s.schedule(this::expire, awaitTimeoutNanos, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                fail(new ScriptException(
                        ScriptException.Kind.THREW,
                        spec.plugin().name(),
                        spec.plugin().scriptName(),
                        head() + " cannot wait: its event loop is shutting down",
                        e));
            }
        }
    }

    /**
     * Runs {@code callback} with {@code args} as a slice of this call, on its event loop: how the work a call started
     * (a DNS lookup) hands its outcome back to the script. Safe from any thread; nothing happens once the call has
     * settled.
     */
    void resume(Value callback, Object... args) {
        try {
            executor.execute(() -> run(callback, args));
        } catch (RejectedExecutionException e) {
            // The event loop is shutting down: its exchanges and connections are being closed with it.
        }
    }

    private void run(Value callback, Object[] args) {
        if (settled.isDone()) {
            return;
        }
        if (tc.dead || tc.context == null) {
            fail(new ScriptException(
                    ScriptException.Kind.THREW,
                    spec.plugin().name(),
                    spec.plugin().scriptName(),
                    head() + " cannot resume: its context was replaced (another call overran its budget)",
                    null));
            return;
        }
        manager.beginSlice(tc, spec, phase, this);
        try {
            callback.execute(args);
        } catch (PolyglotException e) {
            fail(manager.failure(tc, spec, HookSpec.functionName(phase), e));
        } catch (RuntimeException e) {
            fail(new ScriptException(
                    ScriptException.Kind.THREW,
                    spec.plugin().name(),
                    spec.plugin().scriptName(),
                    head() + " failed: " + e,
                    e));
        } finally {
            manager.endSlice(tc);
        }
    }

    /** The Promise fulfilled with {@code value}. */
    @HostAccess.Export
    public void fulfilled(Value value) {
        if (settled.isDone()) {
            return;
        }
        try {
            complete(convert.apply(value));
        } catch (ScriptException e) {
            fail(e);
        }
    }

    /** The Promise was rejected; {@code description} is the reason's stack (or text). */
    @HostAccess.Export
    public void rejected(String description) {
        if (settled.isDone()) {
            return;
        }
        manager.failures.increment();
        String first = description == null
                ? "undefined"
                : description.lines().findFirst().orElse("");
        String where = location(description);
        fail(new ScriptException(
                ScriptException.Kind.THREW,
                spec.plugin().name(),
                where,
                head() + " threw at " + where + " (its Promise was rejected): " + first,
                null));
    }

    private String location(String stack) {
        String name = spec.plugin().scriptName();
        if (stack != null) {
            Matcher m = Pattern.compile(Pattern.quote(name) + ":(\\d+):(\\d+)").matcher(stack);
            if (m.find()) {
                return name + ":" + m.group(1) + ":" + m.group(2);
            }
        }
        return name;
    }

    private void expire() {
        if (settled.isDone()) {
            return;
        }
        manager.timeouts.increment();
        fail(new ScriptException(
                ScriptException.Kind.TIMED_OUT,
                spec.plugin().name(),
                spec.plugin().scriptName(),
                head() + " did not settle within its await timeout of "
                        + TimeUnit.NANOSECONDS.toMillis(manager.awaitTimeoutNanos()) + "ms",
                null));
    }

    private String head() {
        return "plugin " + spec.plugin().name() + ": async " + HookSpec.functionName(phase);
    }

    private void complete(Object result) {
        end();
        settled.complete(result);
    }

    private void fail(ScriptException e) {
        end();
        settled.completeExceptionally(e);
    }

    private void end() {
        if (timer != null) {
            timer.cancel(false);
        }
        if (finish != null) {
            finish.run();
        }
    }
}
