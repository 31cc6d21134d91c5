package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Phase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A script hook reports the phases its plugin exports, so the engine skips it in the others (Hook.phases()). */
class ScriptHookPhasesTest {
    @TempDir
    Path dir;

    @Test
    void aPluginThatExportsOnlyOnRequestReportsOnlyTheRequestPhaseAndAReloadUpdatesIt() throws Exception {
        Path p = TestPlugins.write(dir, "only-request", "export function onRequest(ex, cfg) {}\n", null);
        try (var scripts = ScriptRuntime.builder().build()) {
            ScriptHook hook = scripts.hook(scripts.loadPlugin(p), Map.of());
            assertThat(hook.phases()).containsExactly(Phase.REQUEST);

            Files.writeString(
                    p.resolve("plugin.js"),
                    "export function onRequest(ex, cfg) {}\nexport function onLog(ex, cfg) {}\n"
                            + "export function onResponse(ex, cfg) {}\n");
            assertThat(scripts.reload().reloaded()).hasSize(1);
            assertThat(hook.phases()).containsExactlyInAnyOrder(Phase.REQUEST, Phase.RESPONSE, Phase.LOG);
        }
    }
}
