package dev.torii.server.internal;

import dev.torii.script.ConfigProblem;
import dev.torii.script.Plugin;
import dev.torii.script.PluginException;
import dev.torii.script.ScriptRuntime;
import dev.torii.server.config.ConfigError;
import dev.torii.server.config.PluginSettings;
import dev.torii.server.config.PluginUse;
import dev.torii.server.internal.YamlReader.Fields;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * The plugin part of a {@code torii.yaml}: the top-level {@code plugins} section ({@code directory}, {@code watch},
 * {@code global}) and the {@code plugins} list of each route. Each attached plugin is loaded from its directory and
 * its {@code config} checked against the plugin's JSON Schema while the file is read, so that {@code torii check}
 * reports every problem: a bad config value at its line in the YAML, a broken {@code plugin.json} or
 * {@code plugin.js} at its line in that file.
 *
 * <p>Loading a plugin evaluates its module once, which needs a JavaScript engine: a quiet {@link ScriptRuntime} is
 * built on the first plugin and closed by {@link #close()}. Files without plugins never start one.
 *
 * <p>Not thread-safe; one instance reads one file.
 */
final class PluginsReader implements AutoCloseable {
    private static final List<String> SECTION_KEYS = List.of("directory", "watch", "global");
    private static final List<String> ENTRY_KEYS = List.of("name", "config");
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final Pattern POSITION = Pattern.compile("^(\\d+):(\\d+): (.*)$", Pattern.DOTALL);

    private final YamlReader yaml;
    private final Path baseDirectory;
    private Path directory;
    private boolean watch = true;
    private List<Ref> global = List.of();
    private final Map<String, Loaded> loaded = new HashMap<>();
    private ScriptRuntime runtime;
    /** Where the engine comes from when the caller supplies one (it then outlives this reader); null: our own. */
    private final java.util.function.Supplier<ScriptRuntime> supplied;

    /** One attachment as written: the plugin's name, its config as plain values, and where each value is. */
    record Ref(
            String name,
            Node nameNode,
            Node entryNode,
            String path,
            Map<String, Object> config,
            Map<String, Node> where) {}

    /** A plugin directory read once however often it is attached; {@code plugin} is null when it is broken. */
    private record Loaded(Plugin plugin, Path directory) {}

    /**
     * @param baseDirectory the configuration file's directory, against which {@code plugins.directory} is resolved;
     *     {@code null} for the working directory
     */
    PluginsReader(YamlReader yaml, Path baseDirectory) {
        this(yaml, baseDirectory, null);
    }

    /**
     * @param runtime the engine to load plugins with, asked for on the first plugin and not closed by this reader (so
     *     that {@code torii run} serves the plugins with the engine that checked them); null: a quiet one of our own
     */
    PluginsReader(YamlReader yaml, Path baseDirectory, java.util.function.Supplier<ScriptRuntime> runtime) {
        this.yaml = yaml;
        this.baseDirectory = baseDirectory;
        this.supplied = runtime;
    }

    /** Reads the top-level {@code plugins} section; absent, plugins live in {@code plugins/} next to the file. */
    void readSection(Node node) {
        if (node == null) {
            return;
        }
        Fields f = yaml.fields(node, "plugins", SECTION_KEYS, List.of());
        if (f == null) {
            return;
        }
        Node dirNode = f.value("directory");
        if (dirNode != null) {
            String d = yaml.nonBlank(dirNode, f.path("directory"), "a directory, relative to this file's");
            if (d != null) {
                directory = resolve(Path.of(d));
                if (!Files.isDirectory(directory)) {
                    yaml.error(
                            dirNode,
                            f.path("directory") + ": '" + d + "' (expected: a directory; " + directory
                                    + " is not one)");
                }
            }
        }
        watch = yaml.valueOr(f, "watch", yaml::bool, true);
        Node globalNode = f.value("global");
        if (globalNode != null) {
            global = readList(globalNode, f.path("global"));
        }
    }

    private Path resolve(Path p) {
        return (baseDirectory == null || p.isAbsolute() ? p : baseDirectory.resolve(p)).normalize();
    }

    private Path directory() {
        return directory != null ? directory : resolve(Path.of("plugins"));
    }

    /** Reads a list of {@code { name, config }} at {@code path} ({@code routes[0].plugins}, {@code plugins.global}). */
    List<Ref> readList(Node node, String path) {
        List<Ref> refs = new ArrayList<>();
        List<Node> items = yaml.sequence(node, path);
        for (int i = 0; items != null && i < items.size(); i++) {
            String itemPath = path + "[" + i + "]";
            Fields f = yaml.fields(items.get(i), itemPath, ENTRY_KEYS, List.of());
            if (f == null) {
                continue;
            }
            int before = yaml.errorCount();
            String name = yaml.requiredString(f, "name");
            if (name != null && !NAME.matcher(name).matches()) {
                yaml.error(
                        f.value("name"),
                        f.path("name") + ": '" + name
                                + "' (expected: a plugin name: lower-case letters, digits and dashes)");
            }
            Map<String, Node> where = new HashMap<>();
            where.put("config", items.get(i));
            Map<String, Object> config = Map.of();
            Node configNode = f.value("config");
            if (configNode != null) {
                Object value = plain(configNode, "config", f.path("config"), where);
                if (value instanceof Map<?, ?> m) {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> typed = (Map<String, Object>) m;
                    config = typed;
                } else if (value != null || !(configNode instanceof ScalarNode s && Tag.NULL.equals(s.getTag()))) {
                    yaml.error(configNode, f.path("config") + ": " + show(value) + " (expected: a mapping)");
                }
            }
            if (yaml.errorCount() == before) {
                refs.add(new Ref(name, f.value("name"), items.get(i), itemPath, config, where));
            }
        }
        return refs;
    }

    /**
     * A YAML value as the plain Java values plugin schemas check ({@code Map}, {@code List}, {@code String},
     * {@code Long}, {@code Double}, {@code Boolean}, {@code null}), remembering the node of each under its config path.
     */
    private Object plain(Node node, String configPath, String yamlPath, Map<String, Node> where) {
        where.put(configPath, node);
        if (node instanceof ScalarNode s) {
            Tag tag = s.getTag();
            String v = s.getValue();
            if (Tag.NULL.equals(tag)) {
                return null;
            }
            if (Tag.BOOL.equals(tag)) {
                return Boolean.parseBoolean(v.toLowerCase(java.util.Locale.ROOT));
            }
            if (Tag.INT.equals(tag)) {
                try {
                    BigInteger big = v.startsWith("0x") || v.startsWith("0o")
                            ? new BigInteger(v.substring(2), v.charAt(1) == 'x' ? 16 : 8)
                            : new BigInteger(v.startsWith("+") ? v.substring(1) : v);
                    return big.longValueExact();
                } catch (ArithmeticException | NumberFormatException e) {
                    yaml.error(
                            node,
                            yamlPath + ": " + v + " (expected: an integer between " + Long.MIN_VALUE + " and "
                                    + Long.MAX_VALUE + ")");
                    return null;
                }
            }
            if (Tag.FLOAT.equals(tag)) {
                try {
                    double d = Double.parseDouble(v);
                    if (Double.isFinite(d)) {
                        return d;
                    }
                } catch (NumberFormatException e) {
                    // .inf, .nan and the like: not JSON numbers
                }
                yaml.error(node, yamlPath + ": " + v + " (expected: a finite number)");
                return null;
            }
            return v;
        }
        if (node instanceof SequenceNode seq) {
            List<Object> list = new ArrayList<>();
            List<Node> items = seq.getValue();
            for (int i = 0; i < items.size(); i++) {
                list.add(plain(items.get(i), configPath + "[" + i + "]", yamlPath + "[" + i + "]", where));
            }
            return list;
        }
        Map<String, NodeTuple> entries = yaml.mapping(node, yamlPath);
        Map<String, Object> map = new LinkedHashMap<>();
        if (entries != null) {
            entries.forEach(
                    (k, t) -> map.put(k, plain(t.getValueNode(), configPath + "." + k, yamlPath + "." + k, where)));
        }
        return map;
    }

    private static String show(Object value) {
        return value instanceof List ? "a list" : value instanceof String s ? "'" + s + "'" : String.valueOf(value);
    }

    /**
     * Loads every plugin {@code global} and {@code routes} name and checks each config; problems are recorded in the
     * YAML reader.
     *
     * @param routes the plugin lists of the routes, by route name
     * @return the settings, meaningful only when no problem was recorded
     */
    PluginSettings resolve(Map<String, List<Ref>> routes) {
        List<PluginUse> globalUses = uses(global);
        Map<String, List<PluginUse>> routeUses = new LinkedHashMap<>();
        routes.forEach((route, refs) -> {
            List<PluginUse> uses = uses(refs);
            if (!uses.isEmpty()) {
                routeUses.put(route, uses);
            }
        });
        return new PluginSettings(directory(), watch, globalUses, routeUses);
    }

    /** Loads the plugins {@code refs} name and checks each config; problems are recorded in the YAML reader. */
    List<PluginUse> uses(List<Ref> refs) {
        List<PluginUse> uses = new ArrayList<>();
        for (Ref ref : refs) {
            Loaded l = load(ref);
            if (l.plugin() == null) {
                continue;
            }
            Plugin plugin = l.plugin();
            if (!plugin.name().equals(ref.name())) {
                yaml.error(
                        ref.nameNode(),
                        ref.path() + ".name: '" + ref.name() + "' (expected: the name in "
                                + l.directory().resolve("plugin.json") + ", which is '" + plugin.name() + "')");
                continue;
            }
            List<ConfigProblem> problems = plugin.checkConfig(ref.config());
            for (ConfigProblem p : problems) {
                yaml.error(nodeFor(ref, p.path()), ref.path() + "." + p.path() + ": " + p.message());
            }
            if (problems.isEmpty()) {
                uses.add(new PluginUse(plugin, ref.config()));
            }
        }
        return uses;
    }

    /** The node of {@code configPath}, or of its nearest enclosing value (a missing property: its mapping). */
    private static Node nodeFor(Ref ref, String configPath) {
        String p = configPath;
        while (!ref.where().containsKey(p)) {
            int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
            if (cut <= 0) {
                return ref.entryNode();
            }
            p = p.substring(0, cut);
        }
        return ref.where().get(p);
    }

    private Loaded load(Ref ref) {
        Loaded l = loaded.get(ref.name());
        if (l != null) {
            return l;
        }
        Path dir = directory().resolve(ref.name());
        Plugin plugin = null;
        if (!Files.isDirectory(dir)) {
            yaml.error(
                    ref.nameNode(),
                    ref.path() + ".name: '" + ref.name() + "' (expected: a plugin directory; " + dir
                            + " does not exist)");
        } else {
            try {
                plugin = runtime().loadPlugin(dir);
            } catch (PluginException e) {
                report(ref, dir, e.getMessage());
            }
        }
        l = new Loaded(plugin, dir);
        loaded.put(ref.name(), l);
        return l;
    }

    /**
     * Reports a plugin's own problem where it is: {@code FILE:LINE:COLUMN} inside {@code plugin.json} or
     * {@code plugin.js} when the message names a place there, the whole file when it names only the file, else the
     * attachment in the YAML.
     */
    private void report(Ref ref, Path dir, String message) {
        for (String file : List.of("plugin.json", "plugin.js")) {
            String name = dir.resolve(file).toString();
            if (message.startsWith(name + ":")) {
                String rest = message.substring(name.length() + 1);
                Matcher m = POSITION.matcher(rest);
                if (m.matches()) {
                    yaml.error(new ConfigError(
                            name, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), m.group(3)));
                } else {
                    yaml.error(new ConfigError(name, 0, 0, rest.strip()));
                }
                return;
            }
            // Module evaluation failures start with the plugin and name the place later: "... threw at FILE:L:C: ..."
            Matcher inside =
                    Pattern.compile(Pattern.quote(name) + ":(\\d+):(\\d+)").matcher(message);
            if (inside.find()) {
                yaml.error(new ConfigError(
                        name, Integer.parseInt(inside.group(1)), Integer.parseInt(inside.group(2)), message));
                return;
            }
        }
        yaml.error(ref.nameNode(), ref.path() + ".name: '" + ref.name() + "': " + message);
    }

    private ScriptRuntime runtime() {
        if (runtime == null) {
            runtime = supplied != null
                    ? supplied.get()
                    : ScriptRuntime.builder().quiet().build();
        }
        return runtime;
    }

    /** Closes the JavaScript engine, if this reader started one of its own. */
    @Override
    public void close() {
        if (runtime != null && supplied == null) {
            runtime.close();
            runtime = null;
        }
    }
}
