package dev.torii.server.internal;

import dev.torii.Forwarding;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RouteMatch;
import dev.torii.route.RoutingTable;
import dev.torii.server.config.ConfigError;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.ServerConfig;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.Upstream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Turns the text of a {@code torii.yaml} into a {@link ServerConfig}, or into every problem found in it.
 *
 * <p>Why the node API: snakeyaml-engine's composer keeps each node's start mark, so every problem can be reported at
 * its line and column. The reader walks the whole tree even after a problem, recording each one and skipping only
 * what depends on a bad value, so one run of {@code torii check} shows all of them.
 *
 * <p>Validation happens in two layers. Shapes, types, ranges, names and references are checked here, one setting at
 * a time, so each problem points at its own value. Then the public builders of gateway-core build the real values;
 * their {@link IllegalArgumentException} messages (which catch whatever combination this reader does not know about)
 * are reported at the setting they name, or at the enclosing mapping.
 *
 * <p>Not thread-safe; one instance reads one file.
 */
public final class ConfigReader {
    private static final List<String> TOP_KEYS =
            List.of("listeners", "routes", "upstreams", "limits", "forwarding", "ioThreads", "demo");
    private static final List<String> TOP_LATER = List.of("plugins", "maintenance", "dns", "admin");
    private static final List<String> LISTENER_KEYS = List.of("name", "protocol", "address");
    private static final List<String> LISTENER_LATER = List.of("tls", "upstream");
    private static final List<String> SUPPORTED_PROTOCOLS = List.of("http");
    private static final List<String> LATER_PROTOCOLS = List.of("https", "tcp", "dns");
    private static final List<String> ROUTE_KEYS =
            List.of("name", "match", "upstream", "hostRewrite", "hostFromEndpoint");
    private static final List<String> ROUTE_LATER = List.of("rateLimit", "plugins");
    private static final List<String> MATCH_KEYS = List.of("host", "pathPrefix", "methods", "headers");
    private static final List<String> UPSTREAM_KEYS = List.of(
            "endpoints",
            "loadBalancer",
            "connectTimeout",
            "responseTimeout",
            "maxConnectionsPerEndpoint",
            "maxIdlePerEndpoint",
            "idleTimeout",
            "maxPendingAcquires");
    private static final List<String> LIMITS_KEYS = List.of(
            "maxRequestLineLength",
            "maxHeaderSize",
            "maxRequestBodySize",
            "headerReadTimeout",
            "idleTimeout",
            "maxConnections",
            "shutdownTimeout");
    private static final List<String> FORWARDING_KEYS = List.of("via", "viaName", "xForwarded", "trustedProxies");
    private static final List<String> DEMO_KEYS = List.of("echo");

    /** RFC 9110 token: methods, header names and the Via pseudonym. */
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+");

    private final String source;
    private final List<ConfigError> errors = new ArrayList<>();

    private ConfigReader(String source) {
        this.source = source;
    }

    /**
     * Reads a whole configuration.
     *
     * @param source the file name to put in front of each error, as the user wrote it
     * @param text the YAML text
     * @throws ConfigException with every problem found, sorted by position
     */
    public static ServerConfig read(String source, String text) throws ConfigException {
        return new ConfigReader(Objects.requireNonNull(source, "source")).readDocument(text);
    }

    private ServerConfig readDocument(String text) throws ConfigException {
        Optional<Node> document;
        try {
            LoadSettings settings = LoadSettings.builder()
                    .setLabel(source)
                    .setSchema(new CoreSchema())
                    .build();
            document = new Compose(settings).composeString(text);
        } catch (MarkedYamlEngineException e) {
            Mark mark = e.getProblemMark().or(e::getContextMark).orElse(null);
            String problem = e.getProblem() != null ? e.getProblem() : e.getContext();
            errors.add(
                    mark == null
                            ? new ConfigError(source, 1, 1, "invalid YAML: " + problem)
                            : new ConfigError(
                                    source, mark.getLine() + 1, mark.getColumn() + 1, "invalid YAML: " + problem));
            throw failure();
        } catch (YamlEngineException e) {
            errors.add(new ConfigError(source, 1, 1, "invalid YAML: " + e.getMessage()));
            throw failure();
        }
        if (document.isEmpty()) {
            errors.add(new ConfigError(
                    source, 1, 1, "empty configuration (expected: a mapping with listeners, routes and upstreams)"));
            throw failure();
        }
        Node root = document.get();
        Fields top = fields(root, "", TOP_KEYS, TOP_LATER);
        if (top == null) {
            throw failure();
        }

        List<Listener> listeners = readListeners(top, root);
        Map<String, Upstream> upstreams = readUpstreams(top.value("upstreams"));
        List<RouteRef> routes = readRoutes(top.value("routes"));
        Limits limits = readLimits(top.value("limits"));
        Forwarding forwarding = readForwarding(top.value("forwarding"));
        int ioThreads = Runtime.getRuntime().availableProcessors();
        Node io = top.value("ioThreads");
        if (io != null) {
            Long n = integer(io, "ioThreads", 1, Integer.MAX_VALUE);
            ioThreads = n == null ? ioThreads : n.intValue();
        }
        Optional<Endpoint> demoEcho = readDemo(top.value("demo"), listeners);

        RoutingTable table = buildRoutingTable(top, routes, upstreams);
        if (!errors.isEmpty()) {
            throw failure();
        }
        return new ServerConfig(listeners, table, limits, forwarding, ioThreads, demoEcho);
    }

    private ConfigException failure() {
        Collections.sort(errors);
        return new ConfigException(errors);
    }

    // ---------------------------------------------------------------------------------------------- listeners

    private List<Listener> readListeners(Fields top, Node root) {
        List<Listener> listeners = new ArrayList<>();
        Node node = top.value("listeners");
        if (node == null) {
            error(root, "missing key 'listeners' (expected: at least one listener)");
            return listeners;
        }
        List<Node> items = sequence(node, "listeners");
        if (items == null) {
            return listeners;
        }
        if (items.isEmpty()) {
            error(node, "listeners: [] (expected: at least one listener)");
        }
        Map<String, String> pathByName = new HashMap<>();
        Map<String, String> pathByAddress = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            Listener l = readListener(items.get(i), "listeners[" + i + "]", pathByName, pathByAddress);
            if (l != null) {
                listeners.add(l);
            }
        }
        return listeners;
    }

    private Listener readListener(
            Node node, String path, Map<String, String> pathByName, Map<String, String> pathByAddress) {
        Fields f = fields(node, path, LISTENER_KEYS, LISTENER_LATER);
        if (f == null) {
            return null;
        }
        int before = errors.size();
        String name = requiredString(f, "name");
        if (name != null) {
            String other = pathByName.putIfAbsent(name, path);
            if (other != null) {
                error(
                        f.value("name"),
                        f.path("name") + ": '" + name + "' (expected: unique; " + other + " has it already)");
            }
        }
        Node protocolNode = f.value("protocol");
        if (protocolNode != null) {
            String protocol = string(protocolNode, f.path("protocol"));
            if (protocol != null && !SUPPORTED_PROTOCOLS.contains(protocol)) {
                error(
                        protocolNode,
                        LATER_PROTOCOLS.contains(protocol)
                                ? f.path("protocol") + ": '" + protocol + "' is not supported yet (supported: "
                                        + String.join(", ", SUPPORTED_PROTOCOLS) + ")"
                                : f.path("protocol") + ": '" + protocol + "' (expected one of: "
                                        + String.join(", ", SUPPORTED_PROTOCOLS) + ")");
            }
        }
        String address = requiredString(f, "address");
        if (address == null || errors.size() != before) {
            return null;
        }
        Listener listener;
        try {
            listener = Listener.http(name, address);
        } catch (IllegalArgumentException e) {
            error(f.value("address"), relabel(f.path("address"), e.getMessage()));
            return null;
        }
        // Port 0 means "any free port", so two of those never collide.
        if (listener.port() != 0) {
            String other = pathByAddress.putIfAbsent(listener.host() + ":" + listener.port(), path);
            if (other != null) {
                error(
                        f.value("address"),
                        f.path("address") + ": '" + address + "' (expected: unique; " + other
                                + " listens there already)");
                return null;
            }
        }
        return listener;
    }

    // ---------------------------------------------------------------------------------------------- upstreams

    private Map<String, Upstream> readUpstreams(Node node) {
        Map<String, Upstream> upstreams = new LinkedHashMap<>();
        if (node == null) {
            return upstreams;
        }
        Map<String, NodeTuple> entries = mapping(node, "upstreams");
        if (entries == null) {
            return upstreams;
        }
        entries.forEach((name, tuple) -> {
            Upstream u = readUpstream(name, tuple.getValueNode(), "upstreams." + name);
            // A bad upstream still counts as defined, so routes naming it are not reported a second time.
            upstreams.put(name, u);
        });
        return upstreams;
    }

    private Upstream readUpstream(String name, Node node, String path) {
        Fields f = fields(node, path, UPSTREAM_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = errors.size();
        Upstream.Builder b = Upstream.builder(name);
        Node endpointsNode = f.value("endpoints");
        if (endpointsNode == null) {
            error(node, path + ": missing key 'endpoints' (expected: a list of host:port)");
        } else {
            List<Node> items = sequence(endpointsNode, f.path("endpoints"));
            if (items != null && items.isEmpty()) {
                error(endpointsNode, f.path("endpoints") + ": [] (expected: at least one host:port)");
            }
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("endpoints") + "[" + i + "]";
                String text = string(items.get(i), itemPath);
                if (text != null) {
                    try {
                        b.endpoint(Endpoint.parse(text));
                    } catch (IllegalArgumentException e) {
                        error(items.get(i), relabel(itemPath, e.getMessage()));
                    }
                }
            }
        }
        Node lbNode = f.value("loadBalancer");
        if (lbNode != null) {
            String lb = string(lbNode, f.path("loadBalancer"));
            if (lb != null) {
                LoadBalancing policy = Arrays.stream(LoadBalancing.values())
                        .filter(p -> p.configName().equals(lb))
                        .findFirst()
                        .orElse(null);
                if (policy == null) {
                    error(
                            lbNode,
                            f.path("loadBalancer") + ": '" + lb + "' (expected one of: "
                                    + Arrays.stream(LoadBalancing.values())
                                            .map(LoadBalancing::configName)
                                            .collect(Collectors.joining(", "))
                                    + ")");
                } else {
                    b.loadBalancing(policy);
                }
            }
        }
        set(f, "connectTimeout", (n, p) -> duration(n, p, false), b::connectTimeout);
        set(f, "responseTimeout", (n, p) -> duration(n, p, false), b::responseTimeout);
        set(f, "idleTimeout", (n, p) -> duration(n, p, false), b::idleTimeout);
        set(
                f,
                "maxConnectionsPerEndpoint",
                (n, p) -> integer(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxConnectionsPerEndpoint(v.intValue()));
        set(
                f,
                "maxIdlePerEndpoint",
                (n, p) -> integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxIdlePerEndpoint(v.intValue()));
        set(
                f,
                "maxPendingAcquires",
                (n, p) -> integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxPendingAcquires(v.intValue()));
        if (errors.size() != before) {
            return null;
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            builderError(f, e);
            return null;
        }
    }

    // ---------------------------------------------------------------------------------------------- routes

    /**
     * A route as read ({@code route} is {@code null} when it has problems), with the node naming its upstream so a
     * dangling name is reported there even when the route has other problems too.
     */
    private record RouteRef(Route route, String upstream, Node upstreamNode, String path) {}

    private List<RouteRef> readRoutes(Node node) {
        List<RouteRef> routes = new ArrayList<>();
        if (node == null) {
            return routes;
        }
        List<Node> items = sequence(node, "routes");
        if (items == null) {
            return routes;
        }
        Map<String, String> pathByName = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            RouteRef r = readRoute(items.get(i), i, pathByName);
            if (r != null) {
                routes.add(r);
            }
        }
        return routes;
    }

    private RouteRef readRoute(Node node, int index, Map<String, String> pathByName) {
        String path = "routes[" + index + "]";
        Fields f = fields(node, path, ROUTE_KEYS, ROUTE_LATER);
        if (f == null) {
            return null;
        }
        int before = errors.size();
        String name = "route-" + index;
        Node nameNode = f.value("name");
        if (nameNode != null) {
            name = nonBlank(nameNode, f.path("name"), "a route name");
        }
        if (name != null) {
            String other = pathByName.putIfAbsent(name, path);
            if (other != null) {
                error(
                        nameNode != null ? nameNode : node,
                        (nameNode != null ? f.path("name") : path) + ": '" + name + "' (expected: unique; " + other
                                + " has it already)");
            }
        }
        Route.Builder b = Route.builder(name == null ? path : name);
        Node matchNode = f.value("match");
        if (matchNode != null) {
            readMatch(matchNode, f.path("match"), b);
        }
        String upstream = requiredString(f, "upstream");
        b.upstream(upstream);
        String hostRewrite = null;
        Node hostRewriteNode = f.value("hostRewrite");
        if (hostRewriteNode != null) {
            hostRewrite = nonBlank(hostRewriteNode, f.path("hostRewrite"), "a host, optionally with :port");
            b.rewriteHost(hostRewrite);
        }
        Node fromEndpointNode = f.value("hostFromEndpoint");
        if (fromEndpointNode != null) {
            Boolean fromEndpoint = bool(fromEndpointNode, f.path("hostFromEndpoint"));
            if (Boolean.TRUE.equals(fromEndpoint)) {
                if (hostRewriteNode != null) {
                    error(
                            fromEndpointNode,
                            f.path("hostFromEndpoint") + ": true (expected: false or absent when hostRewrite is"
                                    + " set; a route sets Host one way)");
                }
                b.hostFromEndpoint();
            }
        }
        Route route = null;
        if (errors.size() == before) {
            try {
                route = b.build();
            } catch (IllegalArgumentException e) {
                builderError(f, e);
            }
        }
        return upstream == null ? null : new RouteRef(route, upstream, f.value("upstream"), path);
    }

    private void readMatch(Node node, String path, Route.Builder b) {
        Fields f = fields(node, path, MATCH_KEYS, List.of());
        if (f == null) {
            return;
        }
        Node hostNode = f.value("host");
        if (hostNode != null) {
            String host = string(hostNode, f.path("host"));
            // Probing RouteMatch one condition at a time reports each bad condition, not only the first.
            if (host != null && probe(hostNode, f.path("host"), () -> new RouteMatch(host, "/", Set.of(), Map.of()))) {
                b.host(host);
            }
        }
        Node prefixNode = f.value("pathPrefix");
        if (prefixNode != null) {
            String prefix = string(prefixNode, f.path("pathPrefix"));
            if (prefix != null
                    && probe(
                            prefixNode, f.path("pathPrefix"), () -> new RouteMatch(null, prefix, Set.of(), Map.of()))) {
                b.pathPrefix(prefix);
            }
        }
        Node methodsNode = f.value("methods");
        if (methodsNode != null) {
            List<Node> items = sequence(methodsNode, f.path("methods"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("methods") + "[" + i + "]";
                String method = string(items.get(i), itemPath);
                if (method != null) {
                    if (TOKEN.matcher(method).matches()) {
                        b.methods(method);
                    } else {
                        error(items.get(i), itemPath + ": '" + method + "' (expected: an HTTP method like GET)");
                    }
                }
            }
        }
        Node headersNode = f.value("headers");
        if (headersNode != null) {
            Map<String, NodeTuple> headers = mapping(headersNode, f.path("headers"));
            Map<String, String> seen = new HashMap<>();
            if (headers != null) {
                headers.forEach((name, tuple) -> {
                    String headerPath = f.path("headers") + "." + name;
                    if (!TOKEN.matcher(name).matches()) {
                        error(
                                tuple.getKeyNode(),
                                f.path("headers") + ": '" + name + "' (expected: a header name like x-api-version)");
                    } else if (seen.putIfAbsent(name.toLowerCase(Locale.ROOT), name) != null) {
                        error(
                                tuple.getKeyNode(),
                                f.path("headers") + ": '" + name + "' (expected: unique; header names ignore case"
                                        + " and '" + seen.get(name.toLowerCase(Locale.ROOT)) + "' is there already)");
                    } else {
                        String value = string(tuple.getValueNode(), headerPath);
                        if (value != null) {
                            b.header(name, value);
                        }
                    }
                });
            }
        }
    }

    private RoutingTable buildRoutingTable(Fields top, List<RouteRef> routes, Map<String, Upstream> upstreams) {
        for (RouteRef r : routes) {
            if (!upstreams.containsKey(r.upstream())) {
                error(
                        r.upstreamNode(),
                        r.path() + ".upstream: '" + r.upstream() + "' ("
                                + (upstreams.isEmpty()
                                        ? "expected: an upstream defined under upstreams; none is"
                                        : "expected one of: " + String.join(", ", upstreams.keySet()))
                                + ")");
            }
        }
        if (!errors.isEmpty()) {
            return null;
        }
        RoutingTable.Builder b = RoutingTable.builder();
        upstreams.values().forEach(b::upstream);
        routes.forEach(r -> b.route(r.route()));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            builderError(top, e);
            return null;
        }
    }

    // ---------------------------------------------------------------------------------------------- limits etc.

    private Limits readLimits(Node node) {
        if (node == null) {
            return Limits.defaults();
        }
        Fields f = fields(node, "limits", LIMITS_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = errors.size();
        Limits.Builder b = Limits.builder();
        set(
                f,
                "maxRequestLineLength",
                (n, p) -> size(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxRequestLineLength(v.intValue()));
        set(f, "maxHeaderSize", (n, p) -> size(n, p, 1, Integer.MAX_VALUE), v -> b.maxHeaderSize(v.intValue()));
        set(f, "maxRequestBodySize", this::bodySize, b::maxRequestBodySize);
        set(f, "headerReadTimeout", (n, p) -> duration(n, p, false), b::headerReadTimeout);
        set(f, "idleTimeout", (n, p) -> duration(n, p, false), b::idleTimeout);
        set(f, "maxConnections", (n, p) -> integer(n, p, 1, Integer.MAX_VALUE), v -> b.maxConnections(v.intValue()));
        set(f, "shutdownTimeout", (n, p) -> duration(n, p, true), b::shutdownTimeout);
        if (errors.size() != before) {
            return null;
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            builderError(f, e);
            return null;
        }
    }

    /** A size, or {@code unlimited}: the engine's default, which a file could not otherwise restore. */
    private Long bodySize(Node node, String path) {
        if (node instanceof ScalarNode s && s.getValue().equals("unlimited")) {
            return Long.MAX_VALUE;
        }
        return size(node, path, 0, Long.MAX_VALUE);
    }

    private Forwarding readForwarding(Node node) {
        Forwarding defaults = Forwarding.defaults();
        if (node == null) {
            return defaults;
        }
        Fields f = fields(node, "forwarding", FORWARDING_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = errors.size();
        boolean via = valueOr(f, "via", this::bool, defaults.via());
        boolean xForwarded = valueOr(f, "xForwarded", this::bool, defaults.xForwarded());
        String viaName = defaults.viaName();
        Node viaNameNode = f.value("viaName");
        if (viaNameNode != null) {
            viaName = string(viaNameNode, f.path("viaName"));
            if (viaName != null && !TOKEN.matcher(viaName).matches()) {
                error(viaNameNode, f.path("viaName") + ": '" + viaName + "' (expected: a token like torii, no spaces)");
            }
        }
        List<String> trusted = new ArrayList<>(defaults.trustedProxies());
        Node trustedNode = f.value("trustedProxies");
        if (trustedNode != null) {
            trusted.clear();
            List<Node> items = sequence(trustedNode, f.path("trustedProxies"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("trustedProxies") + "[" + i + "]";
                String cidr = string(items.get(i), itemPath);
                if (cidr != null
                        && probe(items.get(i), itemPath, () -> new Forwarding(true, "x", true, List.of(cidr)))) {
                    trusted.add(cidr);
                }
            }
        }
        if (errors.size() != before) {
            return null;
        }
        try {
            return new Forwarding(via, viaName, xForwarded, trusted);
        } catch (IllegalArgumentException e) {
            builderError(f, e);
            return null;
        }
    }

    private Optional<Endpoint> readDemo(Node node, List<Listener> listeners) {
        if (node == null) {
            return Optional.empty();
        }
        Fields f = fields(node, "demo", DEMO_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        Node echoNode = f.value("echo");
        if (echoNode == null) {
            return Optional.empty();
        }
        String text = string(echoNode, f.path("echo"));
        if (text == null) {
            return Optional.empty();
        }
        Endpoint echo;
        try {
            echo = Endpoint.parse(text);
        } catch (IllegalArgumentException e) {
            error(echoNode, f.path("echo") + ": '" + text + "' (expected: host:port, e.g. 127.0.0.1:9000)");
            return Optional.empty();
        }
        for (Listener l : listeners) {
            if (l.port() == echo.port() && l.host().equals(echo.host())) {
                error(
                        echoNode,
                        f.path("echo") + ": '" + text + "' (expected: an address no listener uses; listener '"
                                + l.name() + "' is there)");
                return Optional.empty();
            }
        }
        return Optional.of(echo);
    }

    // ---------------------------------------------------------------------------------------------- YAML shapes

    /** The entries of a mapping whose keys are fixed, in file order. */
    private final class Fields {
        final Node node;
        final String path;
        final Map<String, NodeTuple> entries;

        Fields(Node node, String path, Map<String, NodeTuple> entries) {
            this.node = node;
            this.path = path;
            this.entries = entries;
        }

        Node value(String key) {
            NodeTuple t = entries.get(key);
            return t == null ? null : t.getValueNode();
        }

        String path(String key) {
            return child(path, key);
        }
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /**
     * Reads a mapping with fixed keys: unknown keys are errors (with a suggestion when one is close), and keys of
     * later features are errors saying so. Returns {@code null} when {@code node} is not a mapping.
     */
    private Fields fields(Node node, String path, List<String> keys, List<String> later) {
        Map<String, NodeTuple> all = mapping(node, path.isEmpty() ? "configuration" : path);
        if (all == null) {
            return null;
        }
        Map<String, NodeTuple> known = new LinkedHashMap<>();
        all.forEach((key, tuple) -> {
            if (keys.contains(key)) {
                known.put(key, tuple);
            } else if (later.contains(key)) {
                error(tuple.getKeyNode(), child(path, key) + ": not supported yet");
            } else {
                String where = path.isEmpty() ? "configuration" : path;
                String suggestion = closest(key, keys);
                error(
                        tuple.getKeyNode(),
                        where + ": unknown key '" + key + "' ("
                                + (suggestion != null
                                        ? "did you mean '" + suggestion + "'?"
                                        : "expected one of: " + String.join(", ", keys))
                                + ")");
            }
        });
        return new Fields(node, path, known);
    }

    /** A mapping's entries by key, in file order; duplicate and non-string keys are errors. */
    private Map<String, NodeTuple> mapping(Node node, String path) {
        if (!(node instanceof MappingNode m)) {
            error(node, path + ": " + show(node) + " (expected: a mapping)");
            return null;
        }
        Map<String, NodeTuple> entries = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode k) || Tag.NULL.equals(k.getTag())) {
                error(t.getKeyNode(), path + ": key " + show(t.getKeyNode()) + " (expected: a name)");
                continue;
            }
            NodeTuple first = entries.putIfAbsent(k.getValue(), t);
            if (first != null) {
                error(
                        k,
                        path + ": duplicate key '" + k.getValue() + "' (first at line " + line(first.getKeyNode())
                                + ")");
            }
        }
        return entries;
    }

    private List<Node> sequence(Node node, String path) {
        if (node instanceof SequenceNode s) {
            return s.getValue();
        }
        error(node, path + ": " + show(node) + " (expected: a list)");
        return null;
    }

    private String string(Node node, String path) {
        if (node instanceof ScalarNode s && !Tag.NULL.equals(s.getTag())) {
            return s.getValue();
        }
        error(node, path + ": " + show(node) + " (expected: a string)");
        return null;
    }

    private String nonBlank(Node node, String path, String expected) {
        String s = string(node, path);
        if (s != null && s.isBlank()) {
            error(node, path + ": '" + s + "' (expected: " + expected + ")");
            return null;
        }
        return s;
    }

    private String requiredString(Fields f, String key) {
        Node n = f.value(key);
        if (n == null) {
            error(f.node, f.path + ": missing key '" + key + "'");
            return null;
        }
        return nonBlank(n, f.path(key), "a non-empty " + key);
    }

    private Boolean bool(Node node, String path) {
        if (node instanceof ScalarNode s && Tag.BOOL.equals(s.getTag())) {
            return Boolean.parseBoolean(s.getValue().toLowerCase(Locale.ROOT));
        }
        error(node, path + ": " + show(node) + " (expected: true or false)");
        return null;
    }

    private Long integer(Node node, String path, long min, long max) {
        if (node instanceof ScalarNode s && Tag.INT.equals(s.getTag())) {
            long v;
            try {
                v = Long.parseLong(s.getValue());
            } catch (NumberFormatException e) {
                error(node, path + ": " + show(node) + " (expected: a decimal integer)");
                return null;
            }
            return inRange(node, path, s.getValue(), v, min, max);
        }
        error(node, path + ": " + show(node) + " (expected: an integer)");
        return null;
    }

    private Long size(Node node, String path, long min, long max) {
        if (!(node instanceof ScalarNode s) || Tag.NULL.equals(node.getTag())) {
            error(node, path + ": " + show(node) + " (expected: " + Units.SIZE_FORMAT + ")");
            return null;
        }
        try {
            return inRange(node, path, s.getValue(), Units.parseSize(s.getValue()), min, max);
        } catch (IllegalArgumentException e) {
            error(node, path + ": " + show(node) + " (expected: " + Units.SIZE_FORMAT + ")");
            return null;
        }
    }

    private Long inRange(Node node, String path, String text, long v, long min, long max) {
        if (v < min) {
            error(node, path + ": " + text + " (expected: " + (min == 1 ? "> 0" : ">= " + min) + ")");
            return null;
        }
        if (v > max) {
            error(node, path + ": " + text + " (expected: at most " + max + ")");
            return null;
        }
        return v;
    }

    private Duration duration(Node node, String path, boolean zeroAllowed) {
        if (!(node instanceof ScalarNode s) || Tag.NULL.equals(node.getTag())) {
            error(node, path + ": " + show(node) + " (expected: " + Units.DURATION_FORMAT + ")");
            return null;
        }
        Duration d;
        try {
            d = Units.parseDuration(s.getValue());
        } catch (IllegalArgumentException e) {
            error(node, path + ": " + show(node) + " (expected: " + Units.DURATION_FORMAT + ")");
            return null;
        }
        if (d.isZero() && !zeroAllowed) {
            error(node, path + ": " + s.getValue() + " (expected: > 0)");
            return null;
        }
        return d;
    }

    /** Reads {@code key} if present and valid, and hands it to {@code setter}; the builder keeps its default else. */
    private <T> void set(Fields f, String key, Reader<T> reader, Consumer<T> setter) {
        Node n = f.value(key);
        if (n != null) {
            T v = reader.read(n, f.path(key));
            if (v != null) {
                setter.accept(v);
            }
        }
    }

    private <T> T valueOr(Fields f, String key, Reader<T> reader, T fallback) {
        Node n = f.value(key);
        if (n == null) {
            return fallback;
        }
        T v = reader.read(n, f.path(key));
        return v == null ? fallback : v;
    }

    /** Reads one value, recording an error and returning {@code null} when it is not valid. */
    @FunctionalInterface
    private interface Reader<T> {
        T read(Node node, String path);
    }

    /** Runs a gateway-core constructor on one value; its refusal becomes an error at {@code node}. */
    private boolean probe(Node node, String path, Runnable check) {
        try {
            check.run();
            return true;
        } catch (IllegalArgumentException e) {
            error(node, relabel(path, e.getMessage()));
            return false;
        }
    }

    /** A builder's refusal, reported at the first setting of {@code f} its message names, else at {@code f}. */
    private void builderError(Fields f, IllegalArgumentException e) {
        String message = Objects.toString(e.getMessage(), e.toString());
        Node at = f.node;
        String path = f.path.isEmpty() ? "configuration" : f.path;
        for (var entry : f.entries.entrySet()) {
            if (Pattern.compile("\\b" + Pattern.quote(entry.getKey()) + "\\b")
                    .matcher(message)
                    .find()) {
                at = entry.getValue().getValueNode();
                path = f.path(entry.getKey());
                break;
            }
        }
        error(at, relabel(path, message));
    }

    /**
     * Puts {@code path} in front of a gateway-core message, dropping the words of the message's own label that the
     * path already says: {@code endpoint port: 99999 (expected: 1-65535)} at {@code upstreams.app.endpoints[1]}
     * becomes {@code upstreams.app.endpoints[1]: port 99999 (expected: 1-65535)}. Quoted names in the label go too,
     * since the path locates the item.
     */
    static String relabel(String path, String message) {
        int colon = message.indexOf(": ");
        String label = colon < 0 ? "" : message.substring(0, colon);
        if (colon < 0 || label.contains("(") || label.contains(":")) {
            return path + ": " + message;
        }
        List<String> segments = Arrays.stream(path.split("\\."))
                .map(seg -> seg.replaceAll("\\[\\d+]$", "").toLowerCase(Locale.ROOT))
                .toList();
        List<String> kept = new ArrayList<>();
        for (String word : label.split(" ")) {
            String w = word.toLowerCase(Locale.ROOT);
            boolean quoted = w.length() >= 2 && w.startsWith("'") && w.endsWith("'");
            if (!quoted && !w.isEmpty() && segments.stream().noneMatch(seg -> seg.startsWith(w))) {
                kept.add(word);
            }
        }
        String rest = message.substring(colon + 2);
        return path + ": " + (kept.isEmpty() ? rest : String.join(" ", kept) + " " + rest);
    }

    // ---------------------------------------------------------------------------------------------- reporting

    private void error(Node node, String message) {
        Mark mark = node.getStartMark().orElse(null);
        errors.add(
                mark == null
                        ? new ConfigError(source, 1, 1, message)
                        : new ConfigError(source, mark.getLine() + 1, mark.getColumn() + 1, message));
    }

    private static int line(Node node) {
        return node.getStartMark().map(m -> m.getLine() + 1).orElse(1);
    }

    /** A value as it appears in a message: numbers and booleans bare, text quoted, collections by kind. */
    private static String show(Node node) {
        if (node instanceof ScalarNode s) {
            Tag tag = s.getTag();
            if (Tag.NULL.equals(tag)) {
                return "null";
            }
            if (s.isPlain() && (Tag.INT.equals(tag) || Tag.FLOAT.equals(tag) || Tag.BOOL.equals(tag))) {
                return s.getValue();
            }
            return "'" + s.getValue() + "'";
        }
        return node instanceof SequenceNode ? "a list" : "a mapping";
    }

    /** The key closest to {@code key} when it is a likely typo (same letters in another case, or 1-2 edits away). */
    static String closest(String key, List<String> keys) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : keys) {
            int d = k.equalsIgnoreCase(key)
                    ? 0
                    : editDistance(k.toLowerCase(Locale.ROOT), key.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        int allowed = key.length() <= 4 ? 1 : key.length() <= 8 ? 2 : 3;
        return bestDistance <= allowed ? best : null;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
