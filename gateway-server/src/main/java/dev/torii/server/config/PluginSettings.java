package dev.torii.server.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The configuration's JavaScript plugins: where they live, whether the server reloads them when their files change,
 * and which are attached globally and on each route. Immutable.
 *
 * @param directory the plugin directory (one sub-directory per plugin), resolved against the configuration file's
 *     directory
 * @param watch whether the running server watches the plugins' files and reloads a plugin when they change
 * @param global plugins run for every exchange, before route plugins, in this order
 * @param routes plugins per route name, run after the global ones, in this order; routes without plugins are absent
 */
public record PluginSettings(
        Path directory, boolean watch, List<PluginUse> global, Map<String, List<PluginUse>> routes) {
    public PluginSettings {
        Objects.requireNonNull(directory, "directory");
        global = List.copyOf(global);
        routes = routes.entrySet().stream()
                .collect(Collectors.toUnmodifiableMap(Map.Entry::getKey, e -> List.copyOf(e.getValue())));
    }

    /** No plugins: the settings of a file without a {@code plugins} section and without route plugins. */
    public static PluginSettings none() {
        return new PluginSettings(Path.of("plugins"), false, List.of(), Map.of());
    }

    /** Whether any plugin is attached, globally or on a route. */
    public boolean inUse() {
        return !global.isEmpty() || routes.values().stream().anyMatch(l -> !l.isEmpty());
    }
}
