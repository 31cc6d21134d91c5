package dev.torii.server.internal;

import dev.torii.tcp.SniRouting;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * A TCP listener's {@code sni:} mapping (SNI passthrough, {@link SniRouting}):
 *
 * <pre>
 * sni:
 *   routes: { "a.example": upstreamA, "*.b.example": upstreamB }
 *   default: upstreamC          # names without a route; absent (and no listener upstream): refused
 *   clientHelloTimeout: 10s
 *   maxClientHelloBytes: 64KiB
 * </pre>
 *
 * One per listener; not thread-safe.
 */
final class TcpSniReader {
    static final List<String> KEYS = List.of("routes", "default", "clientHelloTimeout", "maxClientHelloBytes");

    /**
     * What was read: the routing, the upstream of names without a route ({@code null}: refused), and each route's
     * upstream node (for the check that the upstream exists, once every section is read).
     */
    record Read(SniRouting routing, String defaultUpstream, Node defaultNode, Map<String, Node> upstreamNodes) {}

    private final YamlReader yaml;

    TcpSniReader(YamlReader yaml) {
        this.yaml = yaml;
    }

    /** Reads {@code node} at {@code path}; {@code null} when it has errors (reported). */
    Read read(Node node, String path, boolean listenerHasUpstream) {
        YamlReader.Fields f = yaml.fields(node, path, KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        var b = SniRouting.builder();
        Map<String, Node> upstreamNodes = new LinkedHashMap<>();
        Node routesNode = f.value("routes");
        if (routesNode == null) {
            yaml.error(node, path + ": missing key 'routes' (expected: { \"a.example\": upstreamA, ... })");
        } else {
            var routes = yaml.mapping(routesNode, f.path("routes"));
            if (routes != null) {
                routes.forEach((pattern, tuple) -> {
                    String routePath = f.path("routes") + "." + pattern;
                    String upstream = yaml.nonBlank(tuple.getValueNode(), routePath, "an upstream name");
                    if (upstream != null
                            && yaml.probe(tuple.getKeyNode(), routePath, () -> SniRouting.builder()
                                    .route(pattern, upstream)
                                    .build())) {
                        b.route(pattern, upstream);
                        upstreamNodes.put(pattern, tuple.getValueNode());
                    }
                });
            }
        }
        String defaultUpstream = null;
        Node defaultNode = f.value("default");
        if (defaultNode != null) {
            defaultUpstream = yaml.nonBlank(defaultNode, f.path("default"), "an upstream name");
            if (listenerHasUpstream) {
                yaml.error(
                        defaultNode,
                        f.path("default") + ": the listener has 'upstream' already (expected: one of the two)");
            }
        }
        Duration timeout = yaml.valueOr(
                f, "clientHelloTimeout", (n, p) -> yaml.duration(n, p, false), SniRouting.DEFAULT_CLIENT_HELLO_TIMEOUT);
        Long max = yaml.valueOr(f, "maxClientHelloBytes", (n, p) -> yaml.size(n, p, 512, 16L * 1024 * 1024), (long)
                SniRouting.DEFAULT_MAX_CLIENT_HELLO_BYTES);
        if (yaml.errorCount() != before) {
            return null;
        }
        SniRouting routing = b.refuseUnknown(defaultUpstream == null && !listenerHasUpstream)
                .clientHelloTimeout(timeout)
                .maxClientHelloBytes(max.intValue())
                .build();
        if (routing.routes().isEmpty() && routing.refuseUnknown()) {
            yaml.error(
                    node,
                    path + ": no route and no default (expected: routes, and default or the listener's upstream)");
            return null;
        }
        return new Read(routing, defaultUpstream, defaultNode, upstreamNodes);
    }
}
