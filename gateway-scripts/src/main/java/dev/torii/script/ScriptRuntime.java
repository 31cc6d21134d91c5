package dev.torii.script;

import dev.torii.maintenance.MaintenanceMode;
import dev.torii.ratelimit.RateLimits;
import dev.torii.script.internal.ConfigSchema;
import dev.torii.script.internal.ContextManager;
import dev.torii.script.internal.HookSpec;
import dev.torii.script.internal.Json;
import dev.torii.script.internal.PluginLoader;
import dev.torii.script.internal.RateLimiters;
import dev.torii.script.internal.SharedZones;
import dev.torii.script.internal.TimeSource;
import dev.torii.script.internal.ToriiBridge;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.graalvm.polyglot.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs JavaScript plugins: one GraalJS engine shared by one sandboxed context per event loop, the shared dictionaries
 * ({@code torii.shared}) and the rate-limit buckets ({@code ex.limit}) every plugin of this runtime sees, and the
 * per-call budgets (a statement limit and a wall-clock deadline).
 *
 * <pre>{@code
 * try (var scripts = ScriptRuntime.builder().build()) {
 *     Plugin guard = scripts.loadPlugin(Path.of("plugins/dos-guard"));
 *     Gateway gateway = Gateway.builder()
 *             .listener(Listener.http("web", "0.0.0.0:8080"))
 *             .hook(scripts.hook(guard, Map.of("rate", 100)))
 *             ...
 * }
 * }</pre>
 *
 * <p>Scripts get no host classes, files, network, threads, processes or environment. Close the runtime after the
 * gateways that use its hooks: calls made after {@link #close()} fail.
 *
 * <h2>Hot reload</h2>
 *
 * The runtime remembers the directory of every plugin it has attached ({@link #hook}). {@link #reload()} reads those
 * directories again and, for each plugin whose files changed, compiles the new version on the calling thread, checks
 * every attached configuration against the new schema, and only then swaps the new version into each of its hooks
 * at once; exchanges already running keep the version they started with. A plugin that fails to load or rejects a
 * configuration keeps its previous version, and the failure is logged with {@code FILE:LINE:COLUMN}. With
 * {@link Builder#watch(Duration)} a background thread does this whenever the files change. Reloads never run on an
 * event loop and never block one.
 *
 * <p>Thread-safe.
 */
public final class ScriptRuntime implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ScriptRuntime.class);

    private final ContextManager contexts;
    private final SharedZones zones;
    private final AtomicInteger hookIds = new AtomicInteger();
    private final Map<Path, Tracked> tracked = new ConcurrentHashMap<>();
    private final Object reloadLock = new Object();
    private final Consumer<ReloadResult> reloadListener;
    /**
     * The file watcher ({@link #watch(Duration)}), null while none runs; written under {@code this}, volatile so a
     * watcher that {@link #unwatch()} replaced sees it is no longer the one.
     */
    private volatile Thread watcher;

    private final PluginBreaker defaultBreaker;
    private volatile boolean closed;

    /** A plugin directory with the hooks attached from it; the mutable fields are guarded by {@code reloadLock}. */
    private static final class Tracked {
        final Path directory;
        final List<ScriptHook> hooks = new CopyOnWriteArrayList<>();
        Plugin current;
        PluginLoader.Texts seen; // the files as last read; null: not read yet (or unreadable)
        String failure; // the last failure's message, null when the last attempt succeeded

        Tracked(Path directory, Plugin current) {
            this.directory = directory;
            this.current = current;
        }
    }

    private ScriptRuntime(Builder b) {
        TimeSource time = TimeSource.of(b.clock);
        this.zones = new SharedZones(b.zoneCapacities, b.sharedCapacity, b.maxSharedZones, time);
        this.contexts = new ContextManager(
                b.statementLimit,
                b.timeout,
                zones,
                new RateLimiters(b.rateLimitKeys, time, b.rateLimits),
                time,
                b.logSink,
                maintenanceFlag(b.maintenance));
        contexts.dnsCache(b.dnsCache);
        if (b.awaitTimeout != null) {
            contexts.awaitTimeout(b.awaitTimeout);
        }
        this.reloadListener = b.reloadListener;
        this.defaultBreaker = b.breaker;
        if (!b.quiet && contexts.jitEnabled()) {
            log.info(
                    "JavaScript: GraalJS {} on {}, optimizing JIT on",
                    contexts.version(),
                    contexts.implementationName());
        } else if (!b.quiet) {
            log.warn(
                    "JavaScript: GraalJS {} interpreted, JIT off (scripts run several times slower); to turn it on see"
                            + " docs/scripting.md: -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI"
                            + " --module-path=<compiler, collections, word, truffle-compiler jars>"
                            + " --add-modules=jdk.graal.compiler",
                    contexts.version());
        }
        if (b.watchInterval != null) {
            watch(b.watchInterval);
        }
    }

    private static java.util.function.BooleanSupplier maintenanceFlag(Supplier<MaintenanceMode> source) {
        if (source == null) {
            return () -> false;
        }
        return () -> {
            MaintenanceMode m = source.get();
            return m != null && m.enabled();
        };
    }

    /**
     * Starts the background thread that reloads attached plugins whose files changed, as {@link Builder#watch}
     * does: for a runtime built before its configuration was known (the one {@code torii run} checks the
     * configuration's plugins with and then serves them with). Thread-safe; the watcher starts at most once.
     *
     * @throws IllegalStateException when this runtime already watches, or is closed
     */
    public synchronized void watch(Duration interval) {
        Objects.requireNonNull(interval, "interval");
        if (interval.toMillis() < 10 || interval.toMinutes() > 60) {
            throw new IllegalArgumentException("watch: " + interval + " (expected: 10ms to 1h)");
        }
        if (closed) {
            throw new IllegalStateException("watch: the runtime is closed");
        }
        if (watcher != null) {
            throw new IllegalStateException("watch: the runtime already watches its plugins' files");
        }
        long nanos = interval.toNanos();
        watcher = Thread.ofPlatform().name("torii-plugin-watcher").daemon().unstarted(() -> watchLoop(nanos));
        watcher.start();
    }

    /**
     * Stops the background watcher of {@link #watch(Duration)} (a configuration reload that turns {@code plugins.watch}
     * off); a reload it is running finishes first. {@link #watch(Duration)} may start one again. Thread-safe; does
     * nothing when none runs.
     */
    public synchronized void unwatch() {
        Thread w = watcher;
        watcher = null;
        if (w != null) {
            LockSupport.unpark(w);
        }
    }

    /** Whether the background watcher of {@link #watch(Duration)} runs. */
    public boolean watching() {
        return watcher != null;
    }

    /** A builder with the default budgets and bounds. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Loads the plugin in {@code directory} ({@code plugin.json} + {@code plugin.js}) and evaluates its module once to
     * check it.
     *
     * @throws PluginException naming the file, line and column of the first problem
     */
    public Plugin loadPlugin(Path directory) {
        Plugin plugin = PluginLoader.load(Objects.requireNonNull(directory, "directory"), contexts);
        contexts.counters(plugin.name()); // its series exist (at zero) from the start, not from the first call
        return plugin;
    }

    /**
     * Attaches {@code plugin} with {@code config}, validated against the plugin's schema with its defaults applied.
     *
     * @param config values made of {@code Map}, {@code List}, {@code String}, {@code Number}, {@code Boolean}; {@code
     *     null} for an empty config
     * @throws PluginException listing each problem as {@code plugin NAME config.PATH: VALUE (expected: ...)}
     */
    public ScriptHook hook(Plugin plugin, Map<String, ?> config) {
        return hook(plugin, config, plugin.breaker().orElse(defaultBreaker));
    }

    /**
     * {@link #hook(Plugin, Map)} with {@code breaker} instead of the plugin manifest's (or the runtime's default) one:
     * for a configuration that sets the breaker where it attaches the plugin.
     */
    public ScriptHook hook(Plugin plugin, Map<String, ?> config, PluginBreaker breaker) {
        Objects.requireNonNull(plugin, "plugin");
        Objects.requireNonNull(breaker, "breaker");
        Map<String, Object> completed;
        try {
            completed = ConfigSchema.checked(plugin.configSchema()).apply(config);
        } catch (IllegalArgumentException e) {
            String prefix = "plugin " + plugin.name() + " ";
            throw new PluginException(prefix + e.getMessage().replace("\n", "\n" + prefix), e);
        }
        String json = Json.write(completed);
        var spec = HookSpec.of(hookIds.getAndIncrement(), plugin, PluginLoader.source(plugin), json);
        var hook = new ScriptHook(
                spec, contexts, config == null ? Map.of() : config, Collections.unmodifiableMap(completed), breaker);
        synchronized (reloadLock) {
            tracked.computeIfAbsent(key(plugin.directory()), k -> new Tracked(plugin.directory(), plugin))
                    .hooks
                    .add(hook);
        }
        return hook;
    }

    private static Path key(Path directory) {
        return directory.toAbsolutePath().normalize();
    }

    /**
     * Reloads every attached plugin whose {@code plugin.js} or {@code plugin.json} changed since it was last read, and
     * retries those whose last reload failed. Compiles on the calling thread (call it off the event loops) and
     * returns when done; concurrent calls (and the watcher) take turns.
     *
     * @return what was reloaded and what failed; the failures are logged too
     */
    public ReloadResult reload() {
        return reload(true);
    }

    private ReloadResult reload(boolean retryFailed) {
        var reloaded = new ArrayList<Plugin>();
        var failures = new ArrayList<String>();
        synchronized (reloadLock) {
            if (closed) {
                return new ReloadResult(reloaded, failures);
            }
            for (Tracked t : tracked.values()) {
                reloadOne(t, retryFailed, reloaded, failures);
            }
        }
        var result = new ReloadResult(reloaded, failures);
        if (!result.isEmpty() && reloadListener != null) {
            reloadListener.accept(result);
        }
        return result;
    }

    private void reloadOne(Tracked t, boolean retryFailed, List<Plugin> reloaded, List<String> failures) {
        PluginLoader.Texts texts;
        try {
            texts = PluginLoader.read(t.directory);
        } catch (PluginException e) {
            t.seen = null;
            fail(t, e.getMessage(), retryFailed, failures);
            return;
        }
        if (texts.equals(t.seen) && (t.failure == null || !retryFailed)) {
            return;
        }
        t.seen = texts;
        try {
            Plugin next = PluginLoader.load(t.directory, texts, contexts);
            if (next.equals(t.current)
                    && t.hooks.stream().allMatch(h -> h.plugin().equals(next))) {
                if (t.failure != null) {
                    log.info("plugin {}: its files are back to the version in use", next.name());
                }
                t.failure = null;
                return;
            }
            // Every configuration must fit the new schema before any hook changes: all or nothing.
            var completed = new ArrayList<Map<String, Object>>(t.hooks.size());
            for (ScriptHook h : t.hooks) {
                try {
                    completed.add(ConfigSchema.checked(next.configSchema()).apply(h.givenConfig()));
                } catch (IllegalArgumentException e) {
                    String prefix = "plugin " + next.name() + " ";
                    throw new PluginException(
                            prefix + e.getMessage().replace("\n", "\n" + prefix) + " (in the new version at "
                                    + t.directory + ")",
                            e);
                }
            }
            Source source = PluginLoader.source(next);
            for (int i = 0; i < t.hooks.size(); i++) {
                Map<String, Object> c = completed.get(i);
                t.hooks
                        .get(i)
                        .swap(
                                HookSpec.of(hookIds.getAndIncrement(), next, source, Json.write(c)),
                                Collections.unmodifiableMap(c));
            }
            t.current = next;
            t.failure = null;
            reloaded.add(next);
            log.info("plugin {} {} reloaded from {}", next.name(), next.version(), t.directory);
        } catch (PluginException e) {
            fail(t, e.getMessage(), true, failures);
        } catch (RuntimeException e) {
            fail(t, t.directory + ": reload failed: " + e, true, failures);
        }
    }

    private void fail(Tracked t, String message, boolean report, List<String> failures) {
        boolean repeated = message.equals(t.failure);
        t.failure = message;
        if (report || !repeated) {
            failures.add(message);
            log.warn("plugin {}: reload failed, its previous version stays in use: {}", t.current.name(), message);
        }
    }

    private void watchLoop(long intervalNanos) {
        while (!closed && watcher == Thread.currentThread()) {
            LockSupport.parkNanos(intervalNanos);
            if (closed || watcher != Thread.currentThread()) {
                return;
            }
            try {
                reload(false);
            } catch (RuntimeException e) {
                log.warn("plugin watcher: {}", e.toString(), e);
            }
        }
    }

    /** The shared dictionary {@code zone} (what scripts get from {@code torii.shared(zone)}), created on first use. */
    public SharedDict shared(String zone) {
        return zones.zone(zone);
    }

    /** Counters since the runtime was built. */
    public ScriptStats stats() {
        return contexts.stats(zones.evictions());
    }

    /**
     * Counters by plugin name (calls, failures, deadline and statement-budget overruns, breaker trips), in name order:
     * one entry per plugin this runtime has loaded or run, so the names are the configuration's and the map stays
     * small. A snapshot; thread-safe.
     */
    public java.util.SortedMap<String, PluginStats> pluginStats() {
        return contexts.pluginStats();
    }

    /** Whether the optimizing Truffle runtime (the JIT) is on; see docs/scripting.md for the JVM flags. */
    public boolean jitEnabled() {
        return contexts.jitEnabled();
    }

    /** The polyglot engine's implementation name, e.g. {@code GraalVM CE}, or {@code Interpreted}. */
    public String implementationName() {
        return contexts.implementationName();
    }

    /**
     * Stops the watcher, waits for a reload in progress, then closes every context (cancelling calls in progress) and
     * the engine.
     */
    @Override
    public void close() {
        Thread w;
        synchronized (this) {
            closed = true;
            w = watcher;
        }
        if (w != null) {
            LockSupport.unpark(w);
        }
        synchronized (reloadLock) {
            contexts.close();
        }
    }

    /** Builds a {@link ScriptRuntime}; {@link #build()} validates the settings. Not thread-safe. */
    public static final class Builder {
        private long statementLimit = 100_000;
        private Duration timeout = Duration.ofMillis(500);
        private PluginBreaker breaker = PluginBreaker.defaults();
        private long sharedCapacity = 10_000;
        private int maxSharedZones = 64;
        private final Map<String, Long> zoneCapacities = new LinkedHashMap<>();
        private long rateLimitKeys = 100_000;
        private Supplier<RateLimits> rateLimits = RateLimits::empty;
        private InstantSource clock = InstantSource.system();
        private ToriiBridge.LogSink logSink = ToriiBridge.LogSink.SLF4J;
        private Duration watchInterval;
        private Consumer<ReloadResult> reloadListener;
        private boolean quiet;
        private Supplier<MaintenanceMode> maintenance;
        private Supplier<dev.torii.dns.DnsCache> dnsCache;
        private Duration awaitTimeout;

        private Builder() {}

        /**
         * The DNS cache that {@code torii.dns.resolve} looks names up in: the gateway's own, so scripts share its
         * entries (default none: the function then rejects with code {@code NO_CACHE}).
         */
        public Builder dnsCache(dev.torii.dns.DnsCache cache) {
            Objects.requireNonNull(cache, "cache");
            this.dnsCache = () -> cache;
            return this;
        }

        /**
         * The DNS cache as a supplier, read at each {@code torii.dns.resolve}: for a runtime made before the cache
         * (a server checks its plugins while it reads its configuration); a null answer means none yet.
         */
        public Builder dnsCache(Supplier<dev.torii.dns.DnsCache> cache) {
            this.dnsCache = Objects.requireNonNull(cache, "cache");
            return this;
        }

        /**
         * How long the Promise of an {@code async} phase function may stay pending (default 10 s); past it the call
         * fails as timed out (answered HOOK_FAILED, counted by the plugin's breaker) and the exchange goes on. Each
         * slice of JavaScript between two awaits has the {@link #timeout(Duration)} and statement limit of a call.
         */
        public Builder awaitTimeout(Duration awaitTimeout) {
            this.awaitTimeout = Objects.requireNonNull(awaitTimeout, "awaitTimeout");
            return this;
        }

        /**
         * The breaker of plugins whose manifest sets none (default {@link PluginBreaker#defaults()}: 5 overruns in
         * 10 s open it for 30 s, failing closed); {@link PluginBreaker#off()} turns it off.
         */
        public Builder breaker(PluginBreaker breaker) {
            this.breaker = java.util.Objects.requireNonNull(breaker, "breaker");
            return this;
        }

        /**
         * The gateway's maintenance switch, which scripts read as {@code torii.maintenance.enabled} (without one it
         * reads {@code false}).
         */
        public Builder maintenance(MaintenanceMode maintenance) {
            Objects.requireNonNull(maintenance, "maintenance");
            this.maintenance = () -> maintenance;
            return this;
        }

        /**
         * {@link #maintenance(MaintenanceMode)} for a switch made after the runtime: scripts read
         * {@code source.get()} on each {@code torii.maintenance.enabled}, and {@code false} while it returns null. For
         * a runtime that checks a configuration's plugins before the gateway it serves exists. {@code source} must be
         * thread-safe and cheap.
         */
        public Builder maintenance(Supplier<MaintenanceMode> source) {
            this.maintenance = Objects.requireNonNull(source, "source");
            return this;
        }

        /**
         * Starts a background thread that looks at the files of every attached plugin each {@code interval} (1 s is a
         * good value) and reloads those that changed, as {@link ScriptRuntime#reload()} does. A broken edit is logged
         * once, and retried when the files change again. Off by default.
         */
        public Builder watch(Duration interval) {
            this.watchInterval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /**
         * Called after every reload that reloaded or failed something, on the thread that reloaded (the watcher, or
         * the caller of {@link ScriptRuntime#reload()}); must not block for long.
         */
        public Builder onReload(Consumer<ReloadResult> listener) {
            this.reloadListener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Does not log the start-up line saying whether the JIT is on: for short-lived runtimes, such as one that only
         * checks plugins while a configuration is validated.
         */
        public Builder quiet() {
            this.quiet = true;
            return this;
        }

        /** JavaScript statements one phase call may run (default 100,000); past it the call fails. */
        public Builder statementLimit(long statementLimit) {
            this.statementLimit = statementLimit;
            return this;
        }

        /**
         * Wall-clock time one phase call may take (default 500 ms); past it the call is interrupted and fails. A safety
         * net against runaway scripts rather than a latency target: the statement limit usually stops them first, and a
         * cold JVM (before the JIT has compiled a hook) runs the first calls much slower than later ones. The first call
         * of each function in each event loop's context gets at least 2 s (it parses and links the function); repeated
         * overruns open the plugin's {@link PluginBreaker}.
         */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** Entries each shared dictionary keeps by default (default 10,000); past it the least recently used go. */
        public Builder sharedCapacity(long entries) {
            this.sharedCapacity = entries;
            return this;
        }

        /** Entries shared dictionary {@code zone} keeps, overriding {@link #sharedCapacity(long)}. */
        public Builder sharedCapacity(String zone, long entries) {
            zoneCapacities.put(Objects.requireNonNull(zone, "zone"), entries);
            return this;
        }

        /** How many shared dictionaries may exist (default 64). */
        public Builder maxSharedZones(int zones) {
            this.maxSharedZones = zones;
            return this;
        }

        /**
         * The gateway's named rate-limit policies, which scripts use as {@code ex.limit(key, "name")} and
         * {@code conn.limit(key, "name")} (default none). Scripts decide synchronously, so only local policies work
         * there; a Redis-backed name is an error naming the policy.
         */
        public Builder rateLimits(RateLimits rateLimits) {
            Objects.requireNonNull(rateLimits, "rateLimits");
            this.rateLimits = () -> rateLimits;
            return this;
        }

        /**
         * {@link #rateLimits(RateLimits)} for policies made after the runtime: each named {@code ex.limit} call reads
         * {@code source.get()} (no policy while it returns null). {@code source} must be thread-safe and cheap.
         */
        public Builder rateLimits(Supplier<RateLimits> source) {
            this.rateLimits = Objects.requireNonNull(source, "source");
            return this;
        }

        /** Rate-limit buckets kept for {@code ex.limit} (default 100,000); idle buckets go first. */
        public Builder rateLimitKeys(long keys) {
            this.rateLimitKeys = keys;
            return this;
        }

        /** Where {@code torii.now()}, TTLs and rate limits read time (default: the system clock). For tests. */
        public Builder clock(InstantSource clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Where plugin log lines go instead of SLF4J; for {@link ScriptTester}. */
        Builder logSink(ToriiBridge.LogSink sink) {
            this.logSink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /** The runtime: builds the engine and starts the watchdog thread. */
        public ScriptRuntime build() {
            if (statementLimit < 1) {
                throw new IllegalArgumentException("statementLimit: " + statementLimit + " (expected: > 0)");
            }
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout: " + timeout + " (expected: > 0)");
            }
            if (timeout.toMillis() < 1) {
                throw new IllegalArgumentException("timeout: " + timeout + " (expected: >= 1ms)");
            }
            if (sharedCapacity < 1) {
                throw new IllegalArgumentException("sharedCapacity: " + sharedCapacity + " (expected: > 0)");
            }
            zoneCapacities.forEach((zone, n) -> {
                if (n == null || n < 1) {
                    throw new IllegalArgumentException(
                            "sharedCapacity of zone '" + zone + "': " + n + " (expected: > 0)");
                }
            });
            if (maxSharedZones < 1) {
                throw new IllegalArgumentException("maxSharedZones: " + maxSharedZones + " (expected: > 0)");
            }
            if (watchInterval != null && (watchInterval.toMillis() < 10 || watchInterval.toMinutes() > 60)) {
                throw new IllegalArgumentException("watch: " + watchInterval + " (expected: 10ms to 1h)");
            }
            if (awaitTimeout != null && (awaitTimeout.toMillis() < 1 || awaitTimeout.toMinutes() > 10)) {
                throw new IllegalArgumentException("awaitTimeout: " + awaitTimeout + " (expected: 1ms to 10m)");
            }
            if (rateLimitKeys < 1) {
                throw new IllegalArgumentException("rateLimitKeys: " + rateLimitKeys + " (expected: > 0)");
            }
            return new ScriptRuntime(this);
        }
    }
}
