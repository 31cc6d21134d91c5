package dev.torii.benchmarks;

import dev.torii.HookResult;
import dev.torii.script.ScriptHook;
import dev.torii.script.ScriptRuntime;
import dev.torii.script.ScriptTester;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one JavaScript hook call after warm-up, as the engine pays it on an event loop: look up the thread's
 * context, reset the budgets, build {@code ex}, run the function, turn its result into a {@link HookResult}.
 *
 * <ul>
 *   <li>{@code empty}: {@code onRequest(ex) {}} &mdash; the fixed cost of a call.
 *   <li>{@code headerCheck}: reads a request header and compares it (the DESIGN.md dos-guard's first line).
 *   <li>{@code sharedCounter}: the equivalent of an nginx {@code access_by_lua} rate-limit counter: read a header,
 *       {@code incr} a shared-dictionary entry with a TTL, compare.
 * </ul>
 *
 * <p>The JIT must be on, and JMH's forked JVM inherits this JVM's flags, so run it as:
 *
 * <pre>
 * ./mvnw -q -pl gateway-benchmarks -am install -DskipTests
 * ./mvnw -q -pl gateway-benchmarks dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * M=~/.m2/repository/org/graalvm
 * $JAVA_HOME/bin/java -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI --enable-native-access=ALL-UNNAMED \
 *   --sun-misc-unsafe-memory-access=allow \
 *   --upgrade-module-path=$M/compiler/compiler/25.0.3/compiler-25.0.3.jar:$M/sdk/collections/25.0.4.1/collections-25.0.4.1.jar:$M/sdk/word/25.0.4.1/word-25.0.4.1.jar:$M/truffle/truffle-compiler/25.0.4.1/truffle-compiler-25.0.4.1.jar \
 *   -cp gateway-benchmarks/target/classes:$(cat gateway-benchmarks/target/cp.txt) org.openjdk.jmh.Main ScriptHookBenchmark
 * </pre>
 *
 * The warm-up is long on purpose: the Truffle JIT compiles a hook after seconds of calls, and much later on a busy
 * machine (with load 6 on two cores, 16 s of warm-up was not enough for headerCheck and sharedCounter).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 15, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ScriptHookBenchmark {
    private Path dir;
    private ScriptRuntime runtime;
    private ScriptTester tester;
    private ScriptHook empty;
    private ScriptHook headerCheck;
    private ScriptHook sharedCounter;
    private ScriptTester.TestExchange exchange;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("torii-bench");
        // A deadline far above any call: on a shared, loaded machine a JIT install or GC stall can hold one call for
        // longer than the default, and that would end the run instead of showing in the figures.
        runtime = ScriptRuntime.builder()
                .timeout(java.time.Duration.ofSeconds(30))
                .build();
        empty = hook("empty", "export function onRequest(ex) {}\n");
        headerCheck = hook("header-check", """
                export function onRequest(ex) {
                  if (ex.request.headers.get("x-block") === "1") return ex.respond(403, "blocked\\n");
                }
                """);
        sharedCounter = hook("shared-counter", """
                export function onRequest(ex, cfg) {
                  const key = ex.request.headers.get("x-api-key") ?? ex.client.ip;
                  if (torii.shared("hits").incr(key, 1, { ttl: "60s" }) > cfg.max) return ex.respond(429, "slow down\\n");
                }
                """);
        // The tester only supplies an in-memory exchange; the hooks run on the runtime above (system clock).
        tester = ScriptTester.of(write("exchange-source", "export function onRequest(ex) {}\n"), Map.of());
        exchange = tester.exchange("GET", "/api/items?page=2")
                .header("x-api-key", "k1")
                .client("10.0.0.7");
    }

    private ScriptHook hook(String name, String script) throws IOException {
        return runtime.hook(runtime.loadPlugin(write(name, script)), Map.of("max", 1e15));
    }

    private Path write(String name, String script) throws IOException {
        Path p = Files.createDirectories(dir.resolve(name));
        Files.writeString(p.resolve("plugin.js"), script);
        Files.writeString(
                p.resolve("plugin.json"),
                "{\"name\":\"" + name + "\",\"version\":\"1\",\"config\":{\"type\":\"object\",\"properties\":"
                        + "{\"max\":{\"type\":\"number\"}}}}");
        return p;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        tester.close();
        runtime.close();
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    @Benchmark
    public HookResult empty() {
        return empty.onRequest(exchange);
    }

    @Benchmark
    public HookResult headerCheck() {
        return headerCheck.onRequest(exchange);
    }

    @Benchmark
    public HookResult sharedCounter() {
        return sharedCounter.onRequest(exchange);
    }
}
