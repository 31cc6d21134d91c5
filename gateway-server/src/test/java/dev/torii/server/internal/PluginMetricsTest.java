package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.script.ScriptRuntime;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Script calls, errors and budget trips by plugin as Micrometer series, one set per configured plugin (issue 12). */
class PluginMetricsTest {
    @Test
    void eachLoadedPluginHasItsCallErrorAndBudgetTripSeries(@TempDir Path dir) throws Exception {
        Path plugin = Files.createDirectories(dir.resolve("guard"));
        Files.writeString(plugin.resolve("plugin.json"), "{ \"name\": \"guard\", \"version\": \"1.0.0\" }\n");
        Files.writeString(plugin.resolve("plugin.js"), "export function onRequest(ex) {}\n");
        try (var scripts = ScriptRuntime.builder().build();
                var tester = dev.torii.script.ScriptTester.of(plugin, Map.of())) {
            var hook = scripts.hook(scripts.loadPlugin(plugin), Map.of());
            var registry = new SimpleMeterRegistry();
            Observability.scriptMetrics(scripts).bindTo(registry);

            hook.onRequest(tester.exchange("GET", "/"));
            hook.onRequest(tester.exchange("GET", "/"));

            assertThat(registry.get("torii.plugin.calls")
                            .tag("plugin", "guard")
                            .functionCounter()
                            .count())
                    .isEqualTo(2.0);
            assertThat(registry.get("torii.plugin.errors")
                            .tag("plugin", "guard")
                            .functionCounter()
                            .count())
                    .isZero();
            assertThat(registry.get("torii.plugin.budget.trips")
                            .tag("plugin", "guard")
                            .functionCounters())
                    .extracting(c -> c.getId().getTag("kind"))
                    .containsExactlyInAnyOrder("timeout", "statements", "breaker");
        }
    }
}
