package dev.torii.script.internal;

import dev.torii.Phase;
import dev.torii.script.Plugin;
import dev.torii.script.PluginBreaker;
import dev.torii.script.PluginException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.graalvm.polyglot.Source;

/**
 * Reads a plugin directory: {@code plugin.json} (name, version, description, config schema) and {@code plugin.js}
 * (an ES module), and checks both, so that every mistake surfaces at load time with {@code FILE:LINE:COLUMN}.
 * Stateless; thread-safe.
 */
public final class PluginLoader {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final Set<String> MANIFEST_KEYS = Set.of("name", "version", "description", "config", "breaker");

    private PluginLoader() {}

    /** The module source of {@code plugin}: equal plugins give equal sources, which the engine parses once. */
    public static Source source(Plugin plugin) {
        return Source.newBuilder("js", plugin.script(), plugin.scriptName())
                .mimeType("application/javascript+module")
                .buildLiteral();
    }

    /**
     * Loads the plugin in {@code dir}; {@code contexts} evaluates its module once to find its phase functions.
     *
     * @throws PluginException naming the file (and line and column) of the first problem
     */
    public static Plugin load(Path dir, ContextManager contexts) {
        return load(dir, read(dir), contexts);
    }

    /** The text of a plugin directory's {@code plugin.json} and {@code plugin.js}, read at one moment. */
    public record Texts(String manifest, String script) {}

    /**
     * Reads the two files of the plugin in {@code dir}.
     *
     * @throws PluginException naming a file that is missing or unreadable
     */
    public static Texts read(Path dir) {
        return new Texts(readFile(dir.resolve("plugin.json")), readFile(dir.resolve("plugin.js")));
    }

    /**
     * Loads the plugin in {@code dir} from {@code texts}, read from it before.
     *
     * @throws PluginException naming the file (and line and column) of the first problem
     */
    public static Plugin load(Path dir, Texts texts, ContextManager contexts) {
        Path manifestFile = dir.resolve("plugin.json");
        Path scriptFile = dir.resolve("plugin.js");
        String manifestText = texts.manifest();
        String script = texts.script();
        Json.Document doc;
        try {
            doc = Json.parse(manifestFile.toString(), manifestText);
        } catch (Json.ParseException e) {
            throw new PluginException(e.getMessage(), e);
        }
        if (!(doc.root() instanceof Map<?, ?> m)) {
            throw new PluginException(doc.where(doc.root()) + ": " + ConfigSchema.describe(doc.root())
                    + " (expected: an object with name, version, description, config)");
        }
        for (Object k : m.keySet()) {
            if (!MANIFEST_KEYS.contains(k)) {
                throw new PluginException(doc.where(m) + ": unknown member \"" + k
                        + "\" (expected: name, version, description, config, breaker)");
            }
        }
        String name = string(doc, m, "name", true);
        if (!NAME.matcher(name).matches()) {
            throw new PluginException(doc.where(name) + ": name: \"" + name
                    + "\" (expected: lower-case letters, digits and dashes, starting with a letter or digit)");
        }
        String version = string(doc, m, "version", true);
        String description = string(doc, m, "description", false);
        Object schema = m.get("config");
        @SuppressWarnings("unchecked")
        Map<String, Object> schemaMap =
                schema == null ? Map.of("type", "object") : (Map<String, Object>) check(doc, schema);
        var plugin = new Plugin(
                name,
                version,
                description == null ? "" : description,
                dir,
                scriptFile.toString(),
                script,
                Set.of(Phase.REQUEST),
                schemaMap,
                breaker(doc, m.get("breaker")));
        Set<Phase> phases = contexts.probe(plugin, source(plugin));
        return new Plugin(
                name,
                version,
                plugin.description(),
                dir,
                plugin.scriptName(),
                script,
                phases,
                schemaMap,
                plugin.breaker());
    }

    /** The manifest's {@code breaker} object: threshold, window, coolDown, failOpen, each optional. */
    private static Optional<PluginBreaker> breaker(Json.Document doc, Object node) {
        if (node == null) {
            return Optional.empty();
        }
        if (!(node instanceof Map<?, ?> b)) {
            throw new PluginException(doc.where(node) + ": breaker: " + ConfigSchema.describe(node)
                    + " (expected: an object with threshold, window, coolDown, failOpen)");
        }
        PluginBreaker d = PluginBreaker.defaults();
        int threshold = d.threshold();
        java.time.Duration window = d.window();
        java.time.Duration coolDown = d.coolDown();
        boolean failOpen = d.failOpen();
        for (var e : b.entrySet()) {
            Object v = e.getValue();
            String where = doc.where(v) + ": breaker." + e.getKey() + ": " + ConfigSchema.describe(v);
            switch (String.valueOf(e.getKey())) {
                case "threshold" -> {
                    if (!(v instanceof Long n) || n < 0 || n > Integer.MAX_VALUE) {
                        throw new PluginException(where + " (expected: an integer >= 0; 0 turns it off)");
                    }
                    threshold = n.intValue();
                }
                case "window", "coolDown" -> {
                    java.time.Duration dur;
                    try {
                        dur = java.time.Duration.ofNanos(Durations.parseNanos("breaker." + e.getKey(), (String) v));
                    } catch (RuntimeException x) {
                        throw new PluginException(where + " (expected: a duration like \"10s\" or \"500ms\", > 0)");
                    }
                    if (dur.isZero() || dur.isNegative()) {
                        throw new PluginException(where + " (expected: a duration like \"10s\" or \"500ms\", > 0)");
                    }
                    if (e.getKey().equals("window")) {
                        window = dur;
                    } else {
                        coolDown = dur;
                    }
                }
                case "failOpen" -> {
                    if (!(v instanceof Boolean f)) {
                        throw new PluginException(where + " (expected: true or false)");
                    }
                    failOpen = f;
                }
                default ->
                    throw new PluginException(doc.where(b) + ": breaker: unknown member \"" + e.getKey()
                            + "\" (expected: threshold, window, coolDown, failOpen)");
            }
        }
        return Optional.of(new PluginBreaker(threshold, window, coolDown, failOpen));
    }

    private static Object check(Json.Document doc, Object schema) {
        try {
            ConfigSchema.compile(doc, schema);
            return schema;
        } catch (IllegalArgumentException e) {
            throw new PluginException(e.getMessage(), e);
        }
    }

    private static String string(Json.Document doc, Map<?, ?> m, String key, boolean required) {
        Object v = m.get(key);
        if (v == null && !required) {
            return null;
        }
        if (!(v instanceof String s) || s.isBlank()) {
            throw new PluginException(doc.where(v == null ? m : v) + ": " + key + ": " + ConfigSchema.describe(v)
                    + " (expected: a non-empty string)");
        }
        return s;
    }

    private static String readFile(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new PluginException(file + ": missing (expected: a plugin directory with plugin.json and plugin.js)");
        } catch (IOException e) {
            throw new PluginException(file + ": cannot be read: " + e.getMessage(), e);
        }
    }
}
