package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Calls, failures and budget trips counted by plugin name ({@link ScriptRuntime#pluginStats()}). */
class PluginStatsTest {
    @TempDir
    Path dir;

    @Test
    void callsFailuresAndBudgetTripsAreCountedByPlugin() {
        try (var scripts = ScriptRuntime.builder()
                        .statementLimit(10_000)
                        .breaker(PluginBreaker.off())
                        .build();
                var tester = TestPlugins.tester(dir, "export function onRequest(ex) {}\n")) {
            ScriptHook ok = scripts.hook(
                    scripts.loadPlugin(TestPlugins.write(dir, "ok", "export function onRequest(ex) {}\n", null)),
                    Map.of());
            ScriptHook throwing = scripts.hook(
                    scripts.loadPlugin(TestPlugins.write(
                            dir, "throwing", "export function onResponse(ex) { throw new Error('no'); }\n", null)),
                    Map.of());
            ScriptHook looping = scripts.hook(
                    scripts.loadPlugin(
                            TestPlugins.write(dir, "looping", "export function onRequest(ex) { for (;;) {} }\n", null)),
                    Map.of());
            assertThat(scripts.pluginStats()).containsOnlyKeys("ok", "throwing", "looping");
            assertThat(scripts.pluginStats().get("ok")).isEqualTo(new PluginStats(0, 0, 0, 0, 0));

            for (int i = 0; i < 3; i++) {
                ok.onRequest(tester.exchange("GET", "/" + i));
            }
            // A phase the plugin does not export is not a call.
            throwing.onRequest(tester.exchange("GET", "/"));
            var ex = tester.exchange("GET", "/");
            assertThatThrownBy(() -> throwing.onResponse(ex)).isInstanceOf(ScriptException.class);
            assertThatThrownBy(() -> looping.onRequest(tester.exchange("GET", "/")))
                    .isInstanceOf(ScriptException.class)
                    .hasMessageContaining("statement limit");

            assertThat(scripts.pluginStats().get("ok")).isEqualTo(new PluginStats(3, 0, 0, 0, 0));
            assertThat(scripts.pluginStats().get("throwing")).isEqualTo(new PluginStats(1, 1, 0, 0, 0));
            assertThat(scripts.pluginStats().get("looping")).isEqualTo(new PluginStats(1, 1, 0, 1, 0));
        }
    }

    @Test
    void aBreakerTripIsCountedForItsPlugin() {
        try (var scripts = ScriptRuntime.builder()
                        .statementLimit(10_000)
                        .breaker(new PluginBreaker(
                                1, java.time.Duration.ofSeconds(10), java.time.Duration.ofMinutes(1), true))
                        .build();
                var tester = TestPlugins.tester(dir, "export function onRequest(ex) {}\n")) {
            ScriptHook looping = scripts.hook(
                    scripts.loadPlugin(
                            TestPlugins.write(dir, "looping", "export function onRequest(ex) { for (;;) {} }\n", null)),
                    Map.of());
            assertThatThrownBy(() -> looping.onRequest(tester.exchange("GET", "/")))
                    .isInstanceOf(ScriptException.class);
            looping.onRequest(tester.exchange("GET", "/")); // open: skipped (fail open), not a call

            assertThat(scripts.pluginStats().get("looping")).isEqualTo(new PluginStats(1, 1, 0, 1, 1));
        }
    }
}
