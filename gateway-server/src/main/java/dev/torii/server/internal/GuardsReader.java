package dev.torii.server.internal;

import dev.torii.access.AccessList;
import dev.torii.access.AccessPolicy;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.maintenance.MaintenanceWindow;
import dev.torii.server.config.GuardSettings;
import dev.torii.server.internal.YamlReader.Fields;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;

/**
 * Reads the guard settings: the top-level {@code redis} connection, the {@code maintenance} keys beyond the basic ones
 * ({@code redis}, {@code windows}, {@code routes}, {@code bypassPaths}, {@code bypassHeader}, {@code bypassTokens},
 * {@code jsonPage}; {@link ConfigReader} reads the others and checks the section's key list), and the {@code access}
 * section of allow and deny lists. Errors go to the shared {@link YamlReader}, each at its own value.
 *
 * <p>Not thread-safe; one instance reads one file.
 */
final class GuardsReader {
    /** The maintenance keys read here; {@link ConfigReader} lists them among the section's keys. */
    static final List<String> MAINTENANCE_KEYS =
            List.of("redis", "windows", "routes", "bypassPaths", "bypassHeader", "bypassTokens", "jsonPage");

    private static final List<String> MAINTENANCE_REDIS_KEYS = List.of("key");
    private static final List<String> WINDOW_KEYS = List.of("start", "end", "routes");
    private static final List<String> ACCESS_KEYS =
            List.of("allow", "deny", "file", "listeners", "routes", "reloadInterval");
    private static final List<String> LIST_KEYS = List.of("allow", "deny", "file");

    private final YamlReader yaml;
    private final Path baseDirectory;

    GuardsReader(YamlReader yaml, Path baseDirectory) {
        this.yaml = yaml;
        this.baseDirectory = baseDirectory;
    }

    /**
     * Reads the guard settings.
     *
     * @param maintenance the {@code maintenance} node, or null
     * @param redisAddress the address of the top-level {@code redis} connection (read by {@link RateLimitsReader}, which
     *     owns that section), if any
     * @param access the {@code access} node, or null
     * @param listenerNames every listener's name (http, https and tcp), for references
     * @param routeNames every route's name, for references
     * @param listenerAccess the {@code access} of each listener ({@code listeners[].access}), by listener name
     */
    GuardSettings read(
            Node maintenance,
            Optional<String> redisAddress,
            Node access,
            Set<String> listenerNames,
            Set<String> routeNames,
            Map<String, ConfigDraft.Located> listenerAccess) {
        GuardSettings d = GuardSettings.defaults();
        Map<String, NodeTuple> m = maintenance instanceof MappingNode ? entries(maintenance) : Map.of();

        Optional<String> key = Optional.empty();
        NodeTuple redisUse = m.get("redis");
        if (redisUse != null) {
            Node n = redisUse.getValueNode();
            String path = "maintenance.redis";
            String k = "torii:maintenance";
            if (n instanceof ScalarNode) {
                Boolean on = yaml.bool(n, path);
                k = Boolean.TRUE.equals(on) ? k : null;
            } else {
                Fields f = yaml.fields(n, path, MAINTENANCE_REDIS_KEYS, List.of());
                if (f != null && f.value("key") != null) {
                    k = yaml.nonBlank(f.value("key"), f.path("key"), "a Redis key name, e.g. torii:maintenance");
                }
            }
            if (k != null) {
                if (redisAddress.isEmpty()) {
                    yaml.error(
                            n,
                            path + ": needs the Redis connection (expected: redis: { address: \"host:port\" } at the"
                                    + " top level)");
                } else {
                    key = Optional.of(k);
                }
            }
        }

        List<MaintenanceWindow> windows = new ArrayList<>();
        NodeTuple w = m.get("windows");
        if (w != null) {
            List<Node> items = yaml.sequence(w.getValueNode(), "maintenance.windows");
            for (int i = 0; items != null && i < items.size(); i++) {
                MaintenanceWindow window = readWindow(items.get(i), "maintenance.windows[" + i + "]", routeNames);
                if (window != null) {
                    windows.add(window);
                }
            }
        }
        Set<String> routes = m.containsKey("routes")
                ? routeRefs(m.get("routes").getValueNode(), "maintenance.routes", routeNames)
                : Set.of();
        List<String> bypassPaths = new ArrayList<>();
        if (m.containsKey("bypassPaths")) {
            for (String p : strings(m.get("bypassPaths").getValueNode(), "maintenance.bypassPaths")) {
                if (!p.startsWith("/")) {
                    yaml.error(
                            m.get("bypassPaths").getValueNode(),
                            "maintenance.bypassPaths: '" + p + "' (expected: a path prefix starting with /)");
                } else {
                    bypassPaths.add(p);
                }
            }
        }
        String bypassHeader = d.bypassHeader();
        if (m.containsKey("bypassHeader")) {
            String h = yaml.nonBlank(m.get("bypassHeader").getValueNode(), "maintenance.bypassHeader", "a header name");
            bypassHeader = h == null ? bypassHeader : h;
        }
        List<String> tokens = m.containsKey("bypassTokens")
                ? strings(m.get("bypassTokens").getValueNode(), "maintenance.bypassTokens")
                : List.of();
        String header = bypassHeader;
        String probeKey =
                m.containsKey("bypassTokens") ? "bypassTokens" : m.containsKey("bypassHeader") ? "bypassHeader" : null;
        if (probeKey != null) {
            yaml.probe(m.get(probeKey).getValueNode(), "maintenance." + probeKey, () -> MaintenanceMode.builder()
                    .bypassTokens(tokens)
                    .bypassHeader(header)
                    .build());
        }
        Optional<byte[]> jsonPage = Optional.empty();
        if (m.containsKey("jsonPage")) {
            Node n = m.get("jsonPage").getValueNode();
            String text = yaml.nonBlank(n, "maintenance.jsonPage", "a file, e.g. maintenance.json");
            if (text != null) {
                Path p = resolve(text);
                try {
                    jsonPage = Optional.of(Files.readAllBytes(p));
                } catch (IOException e) {
                    yaml.error(
                            n,
                            "maintenance.jsonPage: '" + text + "' (expected: a readable file; " + p + ": "
                                    + (e instanceof NoSuchFileException ? "no such file" : e.toString()) + ")");
                }
            }
        }
        AccessPolicy policy = readAccess(access, listenerNames, routeNames, listenerAccess);
        return new GuardSettings(
                redisAddress, key, windows, routes, bypassPaths, bypassHeader, tokens, jsonPage, policy);
    }

    /** The entries of a mapping without reporting anything (ConfigReader reports the section's shape). */
    private static Map<String, NodeTuple> entries(Node node) {
        var all = new LinkedHashMap<String, NodeTuple>();
        for (NodeTuple t : ((MappingNode) node).getValue()) {
            if (t.getKeyNode() instanceof ScalarNode k && MAINTENANCE_KEYS.contains(k.getValue())) {
                all.putIfAbsent(k.getValue(), t);
            }
        }
        return all;
    }

    private MaintenanceWindow readWindow(Node node, String path, Set<String> routeNames) {
        Fields f = yaml.fields(node, path, WINDOW_KEYS, List.of());
        if (f == null) {
            return null;
        }
        Instant start = instant(f, "start");
        Instant end = instant(f, "end");
        Set<String> routes =
                f.value("routes") == null ? Set.of() : routeRefs(f.value("routes"), f.path("routes"), routeNames);
        if (start == null || end == null) {
            return null;
        }
        try {
            return new MaintenanceWindow(start, end, List.copyOf(routes));
        } catch (IllegalArgumentException e) {
            yaml.builderError(f, e);
            return null;
        }
    }

    private Instant instant(Fields f, String key) {
        String text = yaml.requiredString(f, key);
        if (text == null) {
            return null;
        }
        try {
            return MaintenanceWindow.parseInstant(key, text);
        } catch (IllegalArgumentException e) {
            yaml.error(f.value(key), YamlReader.relabel(f.path(key), e.getMessage()));
            return null;
        }
    }

    private Set<String> routeRefs(Node node, String path, Set<String> routeNames) {
        var out = new LinkedHashSet<String>();
        List<Node> items = yaml.sequence(node, path);
        for (int i = 0; items != null && i < items.size(); i++) {
            String name = yaml.nonBlank(items.get(i), path + "[" + i + "]", "a route name");
            if (name == null) {
                continue;
            }
            if (!routeNames.contains(name)) {
                yaml.error(
                        items.get(i),
                        path + "[" + i + "]: '" + name + "' (expected one of the routes: "
                                + String.join(", ", routeNames) + ")");
            } else {
                out.add(name);
            }
        }
        return out;
    }

    private List<String> strings(Node node, String path) {
        var out = new ArrayList<String>();
        List<Node> items = yaml.sequence(node, path);
        for (int i = 0; items != null && i < items.size(); i++) {
            String s = yaml.string(items.get(i), path + "[" + i + "]");
            if (s != null) {
                out.add(s);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------- access

    private AccessPolicy readAccess(
            Node node,
            Set<String> listenerNames,
            Set<String> routeNames,
            Map<String, ConfigDraft.Located> listenerAccess) {
        if (node == null && listenerAccess.isEmpty()) {
            return AccessPolicy.open();
        }
        Fields f = node == null ? null : yaml.fields(node, "access", ACCESS_KEYS, List.of());
        if (f == null && node != null) {
            return AccessPolicy.open();
        }
        AccessList global = f == null ? AccessList.open() : readList(f);
        Map<String, AccessList> listeners =
                f == null ? new LinkedHashMap<>() : readScoped(f, "listeners", listenerNames);
        // A listener's own access: { allow, deny, file } is the same list as access.listeners.NAME, written in place.
        listenerAccess.forEach((name, at) -> {
            if (listeners.containsKey(name)) {
                yaml.error(
                        at.node(),
                        at.path() + ": listener '" + name + "' has a list under access.listeners too (expected: one"
                                + " of them)");
                return;
            }
            Fields lf = yaml.fields(at.node(), at.path(), LIST_KEYS, List.of());
            if (lf != null) {
                listeners.put(name, readList(lf));
            }
        });
        Map<String, AccessList> routes = f == null ? Map.of() : readScoped(f, "routes", routeNames);
        Duration reload = f == null
                ? Duration.ofSeconds(1)
                : yaml.valueOr(f, "reloadInterval", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        try {
            return new AccessPolicy(global, listeners, routes, reload);
        } catch (IllegalArgumentException e) {
            if (f != null) {
                yaml.builderError(f, e);
            } else {
                yaml.error(listenerAccess.values().iterator().next().node(), e.getMessage());
            }
            return AccessPolicy.open();
        }
    }

    private Map<String, AccessList> readScoped(Fields f, String key, Set<String> names) {
        var out = new LinkedHashMap<String, AccessList>();
        Node node = f.value(key);
        if (node == null) {
            return out;
        }
        Map<String, NodeTuple> byName = yaml.mapping(node, f.path(key));
        if (byName == null) {
            return out;
        }
        String kind = key.equals("listeners") ? "listeners" : "routes";
        byName.forEach((name, tuple) -> {
            String path = f.path(key) + "." + name;
            if (!names.contains(name)) {
                yaml.error(
                        tuple.getKeyNode(),
                        path + ": no such " + kind.substring(0, kind.length() - 1) + " (expected one of the " + kind
                                + ": " + String.join(", ", names) + ")");
                return;
            }
            Fields lf = yaml.fields(tuple.getValueNode(), path, LIST_KEYS, List.of());
            if (lf != null) {
                out.put(name, readList(lf));
            }
        });
        return out;
    }

    private AccessList readList(Fields f) {
        List<String> allow = blocks(f, "allow");
        List<String> deny = blocks(f, "deny");
        AccessList list = AccessList.of(allow, deny);
        Node fileNode = f.value("file");
        if (fileNode != null) {
            String text = yaml.nonBlank(fileNode, f.path("file"), "a path, e.g. blocked.txt");
            if (text != null) {
                Path p = resolve(text);
                try {
                    AccessList.parseFile(p, Files.readAllLines(p));
                    list = list.withFile(p);
                } catch (IOException e) {
                    yaml.error(
                            fileNode,
                            f.path("file") + ": '" + text + "' (expected: a readable file; " + p + ": "
                                    + (e instanceof NoSuchFileException ? "no such file" : e.toString()) + ")");
                } catch (IllegalArgumentException e) {
                    yaml.error(fileNode, f.path("file") + ": " + e.getMessage());
                }
            }
        }
        return list;
    }

    private List<String> blocks(Fields f, String key) {
        var out = new ArrayList<String>();
        Node node = f.value(key);
        if (node == null) {
            return out;
        }
        List<Node> items = yaml.sequence(node, f.path(key));
        for (int i = 0; items != null && i < items.size(); i++) {
            String path = f.path(key) + "[" + i + "]";
            String cidr = yaml.string(items.get(i), path);
            if (cidr != null
                    && yaml.probe(
                            items.get(i),
                            path,
                            () -> AccessList.of(
                                    key.equals("allow") ? List.of(cidr) : List.of(),
                                    key.equals("deny") ? List.of(cidr) : List.of()))) {
                out.add(cidr);
            }
        }
        return out;
    }

    private Path resolve(String path) {
        Path p = Path.of(path);
        return (baseDirectory == null || p.isAbsolute() ? p : baseDirectory.resolve(p)).normalize();
    }
}
