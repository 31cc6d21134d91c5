package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Phase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading plugins and validating their config: every mistake is reported at load time, naming file and place. */
class PluginLoadingTest {
    private static ScriptRuntime runtime;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        runtime = ScriptRuntime.builder().build();
    }

    @AfterAll
    static void stop() {
        runtime.close();
    }

    private static final String SCHEMA = """
            {
              "type": "object",
              "additionalProperties": false,
              "required": ["upstream"],
              "properties": {
                "rate": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 10 },
                "mode": { "type": "string", "enum": ["log", "block"], "default": "block" },
                "upstream": { "type": "string" },
                "ratio": { "type": "number", "minimum": 0, "maximum": 1 },
                "tags": { "type": "array", "items": { "type": "string" } },
                "limits": { "type": "object", "properties": { "burst": { "type": "integer", "default": 5 } } }
              }
            }""";

    @Test
    void aPluginLoadsWithItsManifestAndPhases() {
        Path p = TestPlugins.write(
                dir, "good", "export function onRequest(ex) {}\nexport function onLog(ex) {}\n", SCHEMA);
        Plugin plugin = runtime.loadPlugin(p);
        assertThat(plugin.name()).isEqualTo("good");
        assertThat(plugin.version()).isEqualTo("0.0.1");
        assertThat(plugin.phases()).containsExactlyInAnyOrder(Phase.REQUEST, Phase.LOG);
        assertThat(plugin.scriptName()).endsWith("good/plugin.js");
    }

    @Test
    void configGetsDefaultsAndIsCheckedAgainstTheSchema() {
        Plugin plugin = runtime.loadPlugin(TestPlugins.write(dir, "cfg", "export function onRequest(ex) {}", SCHEMA));
        ScriptHook hook = runtime.hook(plugin, Map.of("upstream", "app", "limits", Map.of()));
        assertThat(hook.config())
                .containsEntry("rate", 10L)
                .containsEntry("mode", "block")
                .containsEntry("limits", Map.of("burst", 5L));

        assertThatThrownBy(() -> runtime.hook(
                        plugin,
                        Map.of("rate", 0, "mode", "panic", "ratio", 2.5, "tags", List.of("a", 3), "colour", "red")))
                .isInstanceOf(PluginException.class)
                .hasMessageContaining("plugin cfg config.rate: 0 (expected: >= 1)")
                .hasMessageContaining("plugin cfg config.mode: \"panic\" (expected one of: \"log\", \"block\")")
                .hasMessageContaining("plugin cfg config.ratio: 2.5 (expected: <= 1)")
                .hasMessageContaining("plugin cfg config.tags[1]: 3 (expected: string)")
                .hasMessageContaining("plugin cfg config.colour: unknown property")
                .hasMessageContaining("plugin cfg config.upstream: missing (expected: a string)");
        assertThatThrownBy(() -> runtime.hook(plugin, Map.of("upstream", "app", "rate", 1.5)))
                .hasMessageContaining("config.rate: 1.5 (expected: an integer)");
    }

    @Test
    void aSyntaxErrorNamesFileLineAndColumn() {
        Path p = TestPlugins.write(dir, "broken", "export function onRequest(ex) {\n  if (x {\n}\n", null);
        assertThatThrownBy(() -> runtime.loadPlugin(p))
                .isInstanceOf(PluginException.class)
                .hasMessageMatching("(?s).*broken/plugin\\.js:2:\\d+: .*");
    }

    @Test
    void aTopLevelThrowNamesFileLineAndColumn() {
        Path p = TestPlugins.write(
                dir, "thrower", "\n\nthrow new Error('no');\nexport function onRequest(ex) {}\n", null);
        assertThatThrownBy(() -> runtime.loadPlugin(p))
                .isInstanceOf(PluginException.class)
                .hasMessageContaining("thrower/plugin.js:3:7")
                .hasMessageContaining("Error: no");
    }

    @Test
    void exportsMustIncludeAPhaseFunctionSpelledRight() {
        assertThatThrownBy(() ->
                        runtime.loadPlugin(TestPlugins.write(dir, "typo", "export function onrequest(ex) {}", null)))
                .hasMessageContaining(
                        "export onrequest is not a phase function (expected one of: onConnect, onRequest, onUpstream, onResponse,"
                                + " onLog)");
        assertThatThrownBy(() -> runtime.loadPlugin(TestPlugins.write(dir, "none", "export const x = 1;", null)))
                .hasMessageContaining("exports no phase function");
        assertThatThrownBy(
                        () -> runtime.loadPlugin(TestPlugins.write(dir, "notfn", "export const onRequest = 1;", null)))
                .hasMessageContaining("export onRequest is 1 (expected: a function onRequest(ex, cfg))");
    }

    @Test
    void manifestProblemsNameTheFileLineAndColumn() throws IOException {
        Path p = TestPlugins.write(dir, "m", "export function onRequest(ex) {}", null);
        Files.writeString(p.resolve("plugin.json"), "{\n  \"name\": \"Bad Name\",\n  \"version\": \"1\"\n}\n");
        assertThatThrownBy(() -> runtime.loadPlugin(p))
                .hasMessageContaining("m/plugin.json:2:11: name: \"Bad Name\" (expected: lower-case letters");

        Files.writeString(
                p.resolve("plugin.json"),
                "{ \"name\": \"m\", \"version\": \"1\",\n  \"config\": { \"type\": \"object\",\n"
                        + "    \"properties\": { \"a\": { \"type\": \"strin\" } } } }");
        assertThatThrownBy(() -> runtime.loadPlugin(p))
                .hasMessageContaining("m/plugin.json:3:26: config.a.type: \"strin\" (expected one of:");

        Files.writeString(
                p.resolve("plugin.json"),
                "{ \"name\": \"m\", \"version\": \"1\", \"config\": { \"type\": \"object\", \"oneOf\": [] } }");
        assertThatThrownBy(() -> runtime.loadPlugin(p)).hasMessageContaining("unsupported keyword \"oneOf\"");

        Files.writeString(p.resolve("plugin.json"), "{ \"name\": \"m\",\n \"version\": 1 }");
        assertThatThrownBy(() -> runtime.loadPlugin(p))
                .hasMessageContaining("version: 1 (expected: a non-empty string)");

        Files.writeString(p.resolve("plugin.json"), "{ \"name\": \"m\",\n \"version\": \"1\" ");
        assertThatThrownBy(() -> runtime.loadPlugin(p)).hasMessageContaining("m/plugin.json:2:");

        Files.delete(p.resolve("plugin.json"));
        assertThatThrownBy(() -> runtime.loadPlugin(p)).hasMessageContaining("m/plugin.json: missing");
    }

    @Test
    void aDefaultThatBreaksItsOwnSchemaIsRefused() {
        assertThatThrownBy(
                        () -> runtime.loadPlugin(
                                TestPlugins.write(
                                        dir,
                                        "baddefault",
                                        "export function onRequest(ex) {}",
                                        "{ \"type\": \"object\", \"properties\": { \"n\": { \"type\": \"integer\", \"minimum\": 1, \"default\": 0 } } }")))
                .hasMessageContaining("config.n.default: 0 (expected: >= 1)");
    }

    @Test
    void theJitIsOnInTheseTests() {
        // gateway-scripts/pom.xml starts the test JVM with the flags of docs/scripting.md.
        assertThat(runtime.jitEnabled()).as(runtime.implementationName()).isTrue();
    }
}
