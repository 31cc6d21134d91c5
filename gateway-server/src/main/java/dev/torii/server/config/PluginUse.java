package dev.torii.server.config;

import dev.torii.script.Plugin;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A plugin attached in the configuration, globally or on a route, with its parameters. Immutable.
 *
 * @param plugin the plugin as loaded (and checked) when the configuration was read
 * @param config the parameters as written in the file (already checked against the plugin's schema); defaults are
 *     filled in when the plugin is attached
 */
public record PluginUse(Plugin plugin, Map<String, Object> config) {
    public PluginUse {
        Objects.requireNonNull(plugin, "plugin");
        config = config == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(config));
    }
}
