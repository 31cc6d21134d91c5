package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Escape attempts all fail, and runaway scripts are stopped by the budgets without taking the runtime down. */
class SandboxTest {
    @TempDir
    Path dir;

    /** Runs {@code expression} in onRequest and returns what it evaluated to, or "threw: message". */
    private static final String PROBE = """
            export function onRequest(ex) {
              let r;
              try { r = String(eval(ex.request.headers.get("x-probe"))); } catch (e) { r = "threw: " + e; }
              ex.request.headers.set("x-result", r.replace(/[\\r\\n\\t]+/g, " "));
            }
            """;

    private static String probe(ScriptTester t, String expression) {
        var ex = t.exchange("GET", "/").header("x-probe", expression);
        t.onRequest(ex);
        return ex.requestHeaders().get("x-result");
    }

    @Test
    void hostClassesPolyglotLoadAndPrintAreUnreachable() {
        try (var t = TestPlugins.tester(dir, PROBE)) {
            assertThat(probe(t, "typeof Java")).isEqualTo("undefined");
            assertThat(probe(t, "Java.type('java.lang.System')")).startsWith("threw: ReferenceError");
            assertThat(probe(t, "typeof Polyglot")).isEqualTo("undefined");
            assertThat(probe(t, "Polyglot.eval('js', '1')")).startsWith("threw: ReferenceError");
            assertThat(probe(t, "load('/etc/passwd')")).startsWith("threw: ReferenceError");
            assertThat(probe(t, "typeof print + typeof Graal + typeof java + typeof Packages + typeof require"))
                    .isEqualTo("undefinedundefinedundefinedundefinedundefined");
            assertThat(probe(t, "typeof SharedArrayBuffer + typeof Atomics")).isEqualTo("undefinedundefined");
        }
    }

    @Test
    void bridgesExposeOnlyTheirExportedMethods() {
        try (var t = TestPlugins.tester(dir, PROBE)) {
            // torii.shared returns a frozen JS wrapper; the Java bridge behind it is in a private field.
            assertThat(probe(t, "Object.keys(torii.shared('z')).length")).isEqualTo("0");
            assertThat(probe(t, "torii.shared('z').getClass")).isEqualTo("undefined");
            assertThat(probe(t, "ex.getClass")).isEqualTo("undefined");
            assertThat(probe(t, "Object.getOwnPropertyNames(ex).length")).isEqualTo("0");
        }
    }

    @Test
    void importingFilesFails(@TempDir Path other) {
        Path p = TestPlugins.write(other, "importer", """
                import x from "../../../../etc/passwd";
                export function onRequest(ex) {}
                """, null);
        try (var runtime = ScriptRuntime.builder().build()) {
            assertThatThrownBy(() -> runtime.loadPlugin(p))
                    .isInstanceOf(PluginException.class)
                    .hasMessageContaining("importer/plugin.js")
                    .hasMessageContaining("Operation is not allowed");
        }
    }

    @Test
    void dynamicImportFails() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  let r = "none";
                  import("/etc/passwd").then(() => { r = "loaded"; }, (e) => { r = "refused"; });
                  ex.request.headers.set("x-r", r);
                }
                """)) {
            var ex = t.exchange("GET", "/");
            t.onRequest(ex);
            assertThat(ex.requestHeaders().get("x-r")).isNotEqualTo("loaded");
        }
    }

    @Test
    void builtinsAndGlobalsAreFrozenSoPluginsCannotPolluteEachOther() {
        try (var t = TestPlugins.tester(dir, PROBE)) {
            assertThat(probe(t, "(() => { 'use strict'; Object.prototype.polluted = 1; })()"))
                    .startsWith("threw: TypeError");
            assertThat(probe(t, "Array.prototype.map = null")).startsWith("threw: TypeError");
            assertThat(probe(t, "globalThis.leak = 1")).startsWith("threw: TypeError");
            assertThat(probe(t, "torii.now = () => 0")).startsWith("threw: TypeError");
            assertThat(probe(t, "({}).polluted")).isEqualTo("undefined");
        }
    }

    @Test
    void moduleStateInOneContextIsInvisibleToAnotherEventLoopsContext() throws Exception {
        try (var t = TestPlugins.tester(dir, """
                let seen = 0;
                export function onRequest(ex) { seen++; ex.request.headers.set("x-seen", String(seen)); }
                """)) {
            var a = t.exchange("GET", "/");
            t.onRequest(a);
            t.onRequest(t.exchange("GET", "/"));
            var other = t.exchange("GET", "/");
            try (var loop = Executors.newSingleThreadExecutor()) {
                CompletableFuture.runAsync(() -> t.onRequest(other), loop).get();
            }
            assertThat(a.requestHeaders().get("x-seen")).isEqualTo("1");
            assertThat(other.requestHeaders().get("x-seen")).isEqualTo("1");
            assertThat(t.runtime().stats().contextsCreated()).isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void aRunawayLoopRunsOutOfStatementsAndItsContextIsReplaced() {
        try (var t = TestPlugins.tester(dir, """
                let calls = 0;
                export function onRequest(ex) {
                  calls++;
                  if (ex.request.path === "/spin") { while (true) {} }
                  ex.request.headers.set("x-calls", String(calls));
                }
                """)) {
            t.onRequest(t.exchange("GET", "/"));
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/spin")))
                    .isInstanceOfSatisfying(ScriptException.class, e -> {
                        assertThat(e.kind()).isEqualTo(ScriptException.Kind.BUDGET_EXCEEDED);
                        assertThat(e.getMessage())
                                .contains("ran past its statement limit of 100000 at ")
                                .contains("test/plugin.js:4:");
                    });
            var after = t.exchange("GET", "/");
            t.onRequest(after);
            assertThat(after.requestHeaders().get("x-calls")).isEqualTo("1"); // a fresh context
            var stats = t.runtime().stats();
            assertThat(stats.budgetsExceeded()).isEqualTo(1);
            assertThat(stats.contextsReplaced()).isEqualTo(1);
        }
    }

    @Test
    void unboundedAllocationIsStoppedByTheBudget() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  const hoard = [];
                  for (;;) hoard.push({ n: hoard.length, text: "grow" + hoard.length });
                }
                """)) {
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/")))
                    .isInstanceOfSatisfying(ScriptException.class, e -> assertThat(e.kind())
                            // The statement budget; on a slow, cold JVM the deadline may come first.
                            .isIn(ScriptException.Kind.BUDGET_EXCEEDED, ScriptException.Kind.TIMED_OUT));
        }
    }

    @Test
    void largeSingleStatementAllocationsAreRefused() {
        try (var t = TestPlugins.tester(dir, PROBE)) {
            assertThat(probe(t, "'x'.repeat(1e9).length")).startsWith("threw: RangeError");
            assertThat(probe(t, "'x'.padEnd(1e9).length")).startsWith("threw: RangeError");
            assertThat(probe(t, "new ArrayBuffer(2e9).byteLength")).startsWith("threw: RangeError");
            assertThat(probe(t, "new Uint8Array(2e9).length")).startsWith("threw: RangeError");
            assertThat(probe(t, "Array(1e9).length")).startsWith("threw: RangeError");
            assertThat(probe(t, "new Uint8Array(16) instanceof Uint8Array")).isEqualTo("true");
            assertThat(probe(t, "Array.isArray(new Array(3)) && [] instanceof Array"))
                    .isEqualTo("true");
        }
    }

    @Test
    void aLoopPastTheDeadlineIsInterruptedAndTheContextKeepsWorking(@TempDir Path other) {
        Path p = TestPlugins.write(other, "slow", """
                let calls = 0;
                export function onRequest(ex) {
                  calls++;
                  if (ex.request.path === "/spin") { for (;;) {} }
                  ex.request.headers.set("x-calls", String(calls));
                }
                """, null);
        // A huge statement budget, so that only the deadline can stop the loop.
        try (var t = ScriptTester.builder(p)
                .statementLimit(Long.MAX_VALUE / 2)
                .timeout(Duration.ofMillis(200))
                .build()) {
            t.onRequest(t.exchange("GET", "/"));
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/spin")))
                    .isInstanceOfSatisfying(ScriptException.class, e -> {
                        assertThat(e.kind()).isEqualTo(ScriptException.Kind.TIMED_OUT);
                        assertThat(e.getMessage()).contains("ran past its deadline of 200ms at ");
                    });
            var after = t.exchange("GET", "/");
            t.onRequest(after);
            assertThat(after.requestHeaders().get("x-calls")).isEqualTo("3"); // same context: interrupted, not lost
            assertThat(t.runtime().stats().timeouts()).isEqualTo(1);
            assertThat(t.runtime().stats().contextsReplaced()).isZero();
        }
    }

    @Test
    void deepRecursionFailsThatCallOnly() {
        try (var t = TestPlugins.tester(dir, """
                const f = (n) => f(n + 1) + 1;
                export function onRequest(ex) { if (ex.request.path === "/deep") f(0); }
                """)) {
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/deep")))
                    .hasMessageContaining("RangeError")
                    .hasMessageContaining("test/plugin.js:1:");
            assertThat(t.onRequest(t.exchange("GET", "/")).proceeded()).isTrue();
        }
    }

    @Test
    void configIsFrozenSoOneExchangeCannotChangeItForTheNext(@TempDir Path other) {
        Path p = TestPlugins.write(
                other,
                "cfgmut",
                """
                export function onRequest(ex, cfg) { cfg.rate = 1000; }
                """,
                "{ \"type\": \"object\", \"properties\": { \"rate\": { \"type\": \"integer\" } } }");
        try (var t = ScriptTester.of(p, Map.of("rate", 1))) {
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/"))).hasMessageContaining("TypeError");
        }
    }
}
