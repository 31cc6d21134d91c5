package dev.torii.script;

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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
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
 * <p>Thread-safe.
 */
public final class ScriptRuntime implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ScriptRuntime.class);

    private final ContextManager contexts;
    private final SharedZones zones;
    private final AtomicInteger hookIds = new AtomicInteger();

    private ScriptRuntime(Builder b) {
        TimeSource time = TimeSource.of(b.clock);
        this.zones = new SharedZones(b.zoneCapacities, b.sharedCapacity, b.maxSharedZones, time);
        this.contexts = new ContextManager(
                b.statementLimit, b.timeout, zones, new RateLimiters(b.rateLimitKeys, time), time, b.logSink);
        if (contexts.jitEnabled()) {
            log.info(
                    "JavaScript: GraalJS {} on {}, optimizing JIT on",
                    contexts.version(),
                    contexts.implementationName());
        } else {
            log.warn(
                    "JavaScript: GraalJS {} interpreted, JIT off (scripts run several times slower); to turn it on see"
                            + " docs/scripting.md: -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI"
                            + " --upgrade-module-path=<compiler, collections, word, truffle-compiler jars>",
                    contexts.version());
        }
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
        return PluginLoader.load(Objects.requireNonNull(directory, "directory"), contexts);
    }

    /**
     * Attaches {@code plugin} with {@code config}, validated against the plugin's schema with its defaults applied.
     *
     * @param config values made of {@code Map}, {@code List}, {@code String}, {@code Number}, {@code Boolean}; {@code
     *     null} for an empty config
     * @throws PluginException listing each problem as {@code plugin NAME config.PATH: VALUE (expected: ...)}
     */
    public ScriptHook hook(Plugin plugin, Map<String, ?> config) {
        Objects.requireNonNull(plugin, "plugin");
        Map<String, Object> completed;
        try {
            completed = ConfigSchema.checked(plugin.configSchema()).apply(config);
        } catch (IllegalArgumentException e) {
            String prefix = "plugin " + plugin.name() + " ";
            throw new PluginException(prefix + e.getMessage().replace("\n", "\n" + prefix), e);
        }
        String json = Json.write(completed);
        var spec = HookSpec.of(hookIds.getAndIncrement(), plugin, PluginLoader.source(plugin), json);
        return new ScriptHook(spec, contexts, java.util.Collections.unmodifiableMap(completed));
    }

    /** The shared dictionary {@code zone} (what scripts get from {@code torii.shared(zone)}), created on first use. */
    public SharedDict shared(String zone) {
        return zones.zone(zone);
    }

    /** Counters since the runtime was built. */
    public ScriptStats stats() {
        return contexts.stats(zones.evictions());
    }

    /** Whether the optimizing Truffle runtime (the JIT) is on; see docs/scripting.md for the JVM flags. */
    public boolean jitEnabled() {
        return contexts.jitEnabled();
    }

    /** The polyglot engine's implementation name, e.g. {@code GraalVM CE}, or {@code Interpreted}. */
    public String implementationName() {
        return contexts.implementationName();
    }

    /** Closes every context (cancelling calls in progress) and the engine. */
    @Override
    public void close() {
        contexts.close();
    }

    /** Builds a {@link ScriptRuntime}; {@link #build()} validates the settings. Not thread-safe. */
    public static final class Builder {
        private long statementLimit = 100_000;
        private Duration timeout = Duration.ofMillis(500);
        private long sharedCapacity = 10_000;
        private int maxSharedZones = 64;
        private final Map<String, Long> zoneCapacities = new LinkedHashMap<>();
        private long rateLimitKeys = 100_000;
        private InstantSource clock = InstantSource.system();
        private ToriiBridge.LogSink logSink = ToriiBridge.LogSink.SLF4J;

        private Builder() {}

        /** JavaScript statements one phase call may run (default 100,000); past it the call fails. */
        public Builder statementLimit(long statementLimit) {
            this.statementLimit = statementLimit;
            return this;
        }

        /**
         * Wall-clock time one phase call may take (default 500 ms); past it the call is interrupted and fails. A safety
         * net against runaway scripts rather than a latency target: the statement limit usually stops them first, and a
         * cold JVM (before the JIT has compiled a hook) runs the first calls much slower than later ones.
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
            if (rateLimitKeys < 1) {
                throw new IllegalArgumentException("rateLimitKeys: " + rateLimitKeys + " (expected: > 0)");
            }
            return new ScriptRuntime(this);
        }
    }
}
