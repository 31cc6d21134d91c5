package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Plugins in torii.yaml: loaded from the plugin directory, configs checked against their schema, every error placed. */
class PluginConfigTest {
    private static final String GUARD_SCHEMA = """
            {
              "type": "object",
              "additionalProperties": false,
              "properties": {
                "rate": { "type": "integer", "minimum": 1, "default": 10 },
                "mode": { "type": "string", "enum": ["log", "block"], "default": "block" },
                "tags": { "type": "array", "items": { "type": "string" } }
              }
            }""";

    @TempDir
    Path dir;

    /** Writes {@code plugins/NAME} under {@link #dir} with the given files. */
    private void plugin(String name, String manifest, String script) {
        Path p = dir.resolve("plugins").resolve(name);
        try {
            Files.createDirectories(p);
            Files.writeString(p.resolve("plugin.json"), manifest);
            Files.writeString(p.resolve("plugin.js"), script);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void guard() {
        plugin(
                "guard",
                "{ \"name\": \"guard\", \"version\": \"1.0.0\", \"config\": " + GUARD_SCHEMA + " }\n",
                "export function onRequest(ex, cfg) {}\n");
    }

    private Path yaml(String text) {
        try {
            return Files.writeString(dir.resolve("torii.yaml"), text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> errors(Path file) {
        return catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(file)).errors().stream()
                .map(ConfigError::toString)
                .toList();
    }

    @Test
    void globalAndRoutePluginsAreLoadedFromTheDirectoryNextToTheFile() throws Exception {
        guard();
        Path file = yaml("""
                listeners: [ { name: web, address: "127.0.0.1:8080" } ]
                routes:
                  - name: api
                    match: { pathPrefix: /api }
                    upstream: app
                    plugins: [ { name: guard, config: { rate: 5, tags: [ a, b ] } } ]
                  - upstream: app
                upstreams: { app: { endpoints: [ "127.0.0.1:1" ] } }
                plugins:
                  directory: plugins
                  global:
                    - { name: guard }
                    - { name: guard, config: { mode: log } }
                """);

        PluginSettings plugins = ConfigLoader.load(file).plugins();

        assertThat(plugins.directory()).isEqualTo(dir.resolve("plugins"));
        assertThat(plugins.watch()).isTrue();
        assertThat(plugins.inUse()).isTrue();
        assertThat(plugins.global()).extracting(u -> u.plugin().name()).containsExactly("guard", "guard");
        assertThat(plugins.global()).extracting(PluginUse::config).containsExactly(Map.of(), Map.of("mode", "log"));
        assertThat(plugins.routes()).containsOnlyKeys("api");
        assertThat(plugins.routes().get("api")).singleElement().satisfies(u -> assertThat(u.config())
                .isEqualTo(Map.of("rate", 5L, "tags", List.of("a", "b"))));
    }

    @Test
    void withoutAPluginsSectionRoutePluginsComeFromPluginsNextToTheFile() throws Exception {
        guard();
        Path file = yaml("""
                listeners: [ { name: web, address: "127.0.0.1:8080" } ]
                routes: [ { name: r, upstream: app, plugins: [ { name: guard } ] } ]
                upstreams: { app: { endpoints: [ "127.0.0.1:1" ] } }
                """);
        PluginSettings plugins = ConfigLoader.load(file).plugins();
        assertThat(plugins.directory()).isEqualTo(dir.resolve("plugins"));
        assertThat(plugins.routes().get("r")).hasSize(1);
    }

    @Test
    void aFileWithoutPluginsHasNone() throws Exception {
        Path file = yaml("listeners: [ { name: web, address: \"127.0.0.1:8080\" } ]\n");
        assertThat(ConfigLoader.load(file).plugins().inUse()).isFalse();
    }

    @Test
    void everyBadPluginSettingIsReportedAtItsValueInTheYaml() {
        guard();
        Path file = yaml("""
                listeners: [ { name: web, address: "127.0.0.1:8080" } ]
                routes:
                  - name: api
                    upstream: app
                    plugins:
                      - name: guard
                        config: { rate: 0, mode: loud, tags: [ ok, 3 ], colour: red }
                      - { name: guard, config: [ 1 ] }
                      - { name: missing }
                      - { name: "../etc" }
                upstreams: { app: { endpoints: [ "127.0.0.1:1" ] } }
                plugins:
                  directory: plugins
                  global:
                    - { name: guard, config: { rate: 2.5 } }
                  watch: maybe
                """);

        assertThat(errors(file))
                .containsExactly(
                        file + ":7:25: routes[0].plugins[0].config.rate: 0 (expected: >= 1)",
                        file
                                + ":7:34: routes[0].plugins[0].config.mode: \"loud\" (expected one of: \"log\", \"block\")",
                        file + ":7:52: routes[0].plugins[0].config.tags[1]: 3 (expected: string)",
                        file + ":7:65: routes[0].plugins[0].config.colour: unknown property (expected one of: rate,"
                                + " mode, tags)",
                        file + ":8:32: routes[0].plugins[1].config: a list (expected: a mapping)",
                        file + ":9:17: routes[0].plugins[2].name: 'missing' (expected: a plugin directory; "
                                + dir.resolve("plugins/missing") + " does not exist)",
                        file + ":10:17: routes[0].plugins[3].name: '../etc' (expected: a plugin name: lower-case"
                                + " letters, digits and dashes)",
                        file + ":15:38: plugins.global[0].config.rate: 2.5 (expected: an integer)",
                        file + ":16:10: plugins.watch: 'maybe' (expected: true or false)");
    }

    @Test
    void aMissingRequiredPropertyIsReportedAtTheConfigMapping() {
        plugin("needs", """
                { "name": "needs", "version": "1", "config": { "type": "object", "required": ["upstream"],
                  "properties": { "upstream": { "type": "string" } } } }
                """, "export function onUpstream(ex, cfg) {}\n");
        Path file = yaml("""
                listeners: [ { name: web, address: "127.0.0.1:8080" } ]
                plugins:
                  global:
                    - { name: needs, config: { other: 1 } }
                    - { name: needs }
                """);
        assertThat(errors(file))
                .containsExactly(
                        file + ":4:30: plugins.global[0].config.upstream: missing (expected: a string)",
                        file + ":5:7: plugins.global[1].config.upstream: missing (expected: a string)");
    }

    @Test
    void problemsInThePluginsOwnFilesArePlacedInThoseFiles() throws Exception {
        plugin(
                "broken",
                "{ \"name\": \"broken\", \"version\": \"1\" }\n",
                "export function onRequest(ex) {\n  if (\n}\n");
        plugin("badschema", """
                {
                  "name": "badschema", "version": "1",
                  "config": { "type": "object", "properties": { "a": { "type": "strin" } } }
                }
                """, "export function onRequest(ex) {}\n");
        plugin(
                "throws",
                "{ \"name\": \"throws\", \"version\": \"1\" }\n",
                "export function onRequest(ex) {}\nnull.boom;\n");
        plugin("nophase", "{ \"name\": \"nophase\", \"version\": \"1\" }\n", "export const x = 1;\n");
        plugin("alias", "{ \"name\": \"other\", \"version\": \"1\" }\n", "export function onLog(ex) {}\n");
        yaml("""
                listeners: [ { name: web, address: "127.0.0.1:8080" } ]
                routes:
                  - upstream: app
                    plugins: [ { name: broken }, { name: throws }, { name: broken } ]
                upstreams: { app: { endpoints: [ "127.0.0.1:1" ] } }
                plugins:
                  global: [ { name: badschema }, { name: nophase }, { name: alias } ]
                """);
        // The file named relative to the working directory, as a user would: so are the plugin files.
        Path relative = Path.of("").toAbsolutePath().relativize(dir.resolve("torii.yaml"));
        Path plugins = relative.getParent().resolve("plugins");

        List<String> errors = errors(relative);

        assertThat(errors)
                .anySatisfy(e -> assertThat(e).startsWith(plugins + "/broken/plugin.js:3:1: SyntaxError: "))
                .anySatisfy(e -> assertThat(e)
                        .startsWith(plugins + "/badschema/plugin.json:3:54: config.a.type: \"strin\" (expected one"
                                + " of: "))
                .anySatisfy(e -> assertThat(e)
                        .startsWith(plugins + "/throws/plugin.js:2:1: plugin throws: module evaluation threw at "
                                + plugins + "/throws/plugin.js:2:1: TypeError: "))
                .anySatisfy(e -> assertThat(e)
                        .isEqualTo(plugins + "/nophase/plugin.js: exports no phase function (expected at least one of:"
                                + " onConnect, onRequest, onUpstream, onResponse, onLog)"))
                .anySatisfy(e -> assertThat(e)
                        .isEqualTo(relative + ":7:61: plugins.global[2].name: 'alias' (expected: the name in " + plugins
                                + "/alias/plugin.json, which is 'other')"));
        // One report per plugin, however often it is attached.
        assertThat(errors).hasSize(5);
    }
}
