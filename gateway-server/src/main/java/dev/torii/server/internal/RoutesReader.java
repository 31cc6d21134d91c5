package dev.torii.server.internal;

import dev.torii.route.Route;
import dev.torii.route.RouteMatch;
import dev.torii.route.RoutingTable;
import dev.torii.server.internal.YamlReader.Fields;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;

/** The {@code routes} section, and the routing table built from the routes and upstreams. Not thread-safe. */
final class RoutesReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("routes");

    private static final List<String> ROUTE_KEYS =
            List.of("name", "match", "upstream", "hostRewrite", "hostFromEndpoint", "plugins", "rateLimit", "retry");
    private static final List<String> ROUTE_LATER = List.of();
    private static final List<String> MATCH_KEYS = List.of("host", "pathPrefix", "methods", "headers");

    private final ConfigDraft draft;
    private final YamlReader yaml;

    RoutesReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.routes = readRoutes(top.value("routes"));
    }

    private List<ConfigDraft.RouteRef> readRoutes(Node node) {
        List<ConfigDraft.RouteRef> routes = new ArrayList<>();
        if (node == null) {
            return routes;
        }
        List<Node> items = yaml.sequence(node, "routes");
        if (items == null) {
            return routes;
        }
        Map<String, String> pathByName = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            ConfigDraft.RouteRef r = readRoute(items.get(i), i, pathByName);
            if (r != null) {
                routes.add(r);
            }
        }
        return routes;
    }

    private ConfigDraft.RouteRef readRoute(Node node, int index, Map<String, String> pathByName) {
        String path = "routes[" + index + "]";
        Fields f = yaml.fields(node, path, ROUTE_KEYS, ROUTE_LATER);
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        String name = "route-" + index;
        Node nameNode = f.value("name");
        if (nameNode != null) {
            name = yaml.nonBlank(nameNode, f.path("name"), "a route name");
        }
        if (name != null) {
            String other = pathByName.putIfAbsent(name, path);
            if (other != null) {
                yaml.error(
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
        String upstream = yaml.requiredString(f, "upstream");
        b.upstream(upstream);
        String hostRewrite = null;
        Node hostRewriteNode = f.value("hostRewrite");
        if (hostRewriteNode != null) {
            hostRewrite = yaml.nonBlank(hostRewriteNode, f.path("hostRewrite"), "a host, optionally with :port");
            b.rewriteHost(hostRewrite);
        }
        Node fromEndpointNode = f.value("hostFromEndpoint");
        if (fromEndpointNode != null) {
            Boolean fromEndpoint = yaml.bool(fromEndpointNode, f.path("hostFromEndpoint"));
            if (Boolean.TRUE.equals(fromEndpoint)) {
                if (hostRewriteNode != null) {
                    yaml.error(
                            fromEndpointNode,
                            f.path("hostFromEndpoint") + ": true (expected: false or absent when hostRewrite is"
                                    + " set; a route sets Host one way)");
                }
                b.hostFromEndpoint();
            }
        }
        Node retryNode = f.value("retry");
        if (retryNode != null) {
            b.retry(new RetryPolicyReader(yaml).read(retryNode, f.path("retry")));
        }
        Node rateLimitNode = f.value("rateLimit");
        if (rateLimitNode != null) {
            draft.rateLimits.readRoute(rateLimitNode, f.path("rateLimit"), name == null ? path : name);
        }
        List<PluginsReader.Ref> pluginRefs = List.of();
        Node pluginsNode = f.value("plugins");
        if (pluginsNode != null) {
            pluginRefs = draft.plugins.readList(pluginsNode, f.path("plugins"));
        }
        Route route = null;
        if (yaml.errorCount() == before) {
            try {
                route = b.build();
            } catch (IllegalArgumentException e) {
                yaml.builderError(f, e);
            }
        }
        return upstream == null
                ? null
                : new ConfigDraft.RouteRef(
                        route, name == null ? path : name, upstream, f.value("upstream"), path, pluginRefs);
    }

    private void readMatch(Node node, String path, Route.Builder b) {
        Fields f = yaml.fields(node, path, MATCH_KEYS, List.of());
        if (f == null) {
            return;
        }
        Node hostNode = f.value("host");
        if (hostNode != null) {
            String host = yaml.string(hostNode, f.path("host"));
            // Probing RouteMatch one condition at a time reports each bad condition, not only the first.
            if (host != null
                    && yaml.probe(hostNode, f.path("host"), () -> new RouteMatch(host, "/", Set.of(), Map.of()))) {
                b.host(host);
            }
        }
        Node prefixNode = f.value("pathPrefix");
        if (prefixNode != null) {
            String prefix = yaml.string(prefixNode, f.path("pathPrefix"));
            if (prefix != null
                    && yaml.probe(
                            prefixNode, f.path("pathPrefix"), () -> new RouteMatch(null, prefix, Set.of(), Map.of()))) {
                b.pathPrefix(prefix);
            }
        }
        Node methodsNode = f.value("methods");
        if (methodsNode != null) {
            List<Node> items = yaml.sequence(methodsNode, f.path("methods"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("methods") + "[" + i + "]";
                String method = yaml.string(items.get(i), itemPath);
                if (method != null) {
                    if (ConfigDraft.TOKEN.matcher(method).matches()) {
                        b.methods(method);
                    } else {
                        yaml.error(items.get(i), itemPath + ": '" + method + "' (expected: an HTTP method like GET)");
                    }
                }
            }
        }
        Node headersNode = f.value("headers");
        if (headersNode != null) {
            Map<String, NodeTuple> headers = yaml.mapping(headersNode, f.path("headers"));
            Map<String, String> seen = new HashMap<>();
            if (headers != null) {
                headers.forEach((name, tuple) -> {
                    String headerPath = f.path("headers") + "." + name;
                    if (!ConfigDraft.TOKEN.matcher(name).matches()) {
                        yaml.error(
                                tuple.getKeyNode(),
                                f.path("headers") + ": '" + name + "' (expected: a header name like x-api-version)");
                    } else if (seen.putIfAbsent(name.toLowerCase(Locale.ROOT), name) != null) {
                        yaml.error(
                                tuple.getKeyNode(),
                                f.path("headers") + ": '" + name + "' (expected: unique; header names ignore case"
                                        + " and '" + seen.get(name.toLowerCase(Locale.ROOT)) + "' is there already)");
                    } else {
                        String value = yaml.string(tuple.getValueNode(), headerPath);
                        if (value != null) {
                            b.header(name, value);
                        }
                    }
                });
            }
        }
    }

    /** The routing table, once every section is read; {@code null} when the file has any problem. */
    RoutingTable buildRoutingTable(Fields top) {
        for (ConfigDraft.RouteRef r : draft.routes) {
            if (!draft.upstreams.containsKey(r.upstream())) {
                yaml.error(
                        r.upstreamNode(),
                        r.path() + ".upstream: '" + r.upstream() + "' ("
                                + (draft.upstreams.isEmpty()
                                        ? "expected: an upstream defined under upstreams; none is"
                                        : "expected one of: " + String.join(", ", draft.upstreams.keySet()))
                                + ")");
            }
        }
        if (yaml.errorCount() > 0) {
            return null;
        }
        RoutingTable.Builder b = RoutingTable.builder();
        draft.upstreams.values().forEach(b::upstream);
        draft.routes.forEach(r -> b.route(r.route()));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            yaml.builderError(top, e);
            return null;
        }
    }
}
