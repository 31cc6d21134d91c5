package dev.torii.script;

import dev.torii.Phase;
import dev.torii.script.internal.ConfigSchema;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A loaded JavaScript plugin: its manifest ({@code plugin.json}), its module ({@code plugin.js}) and the phases its
 * module exports a function for. Load one with {@link ScriptRuntime#loadPlugin(Path)}; attach it with
 * {@link ScriptRuntime#hook(Plugin, Map)}. Immutable; thread-safe.
 *
 * @param name the manifest's {@code name}: lower-case letters, digits and dashes
 * @param version the manifest's {@code version}
 * @param description the manifest's {@code description}, or {@code ""}
 * @param directory the plugin's directory
 * @param scriptName the name the script is known by in messages and stack traces ({@code DIRECTORY/plugin.js})
 * @param script the text of {@code plugin.js}
 * @param phases the phases {@code plugin.js} exports a function for ({@code onRequest} &rarr; {@link Phase#REQUEST},
 *     {@code onUpstream}, {@code onResponse}, {@code onLog})
 * @param configSchema the manifest's {@code config} JSON Schema as parsed JSON ({@code Map}, {@code List},
 *     {@code String}, {@code Long}, {@code Double}, {@code Boolean}); an empty object schema when absent
 * @param breaker the manifest's {@code breaker}, if it has one (else the runtime's default applies)
 */
public record Plugin(
        String name,
        String version,
        String description,
        Path directory,
        String scriptName,
        String script,
        Set<Phase> phases,
        Map<String, Object> configSchema,
        Optional<PluginBreaker> breaker) {

    public Plugin {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(scriptName, "scriptName");
        Objects.requireNonNull(script, "script");
        phases = Set.copyOf(phases);
        configSchema = Map.copyOf(configSchema);
        Objects.requireNonNull(breaker, "breaker");
    }

    /**
     * Checks {@code config} against this plugin's schema without attaching it.
     *
     * @param config values made of {@code Map}, {@code List}, {@code String}, {@code Number}, {@code Boolean}; {@code
     *     null} for an empty config
     * @return every problem, in document order; empty when {@link ScriptRuntime#hook(Plugin, Map)} would accept it
     */
    public List<ConfigProblem> checkConfig(Map<String, ?> config) {
        return ConfigSchema.checked(configSchema).problems(config);
    }

    @Override
    public String toString() {
        return "Plugin(" + name + " " + version + " at " + directory + ", phases " + phases + ")";
    }
}
