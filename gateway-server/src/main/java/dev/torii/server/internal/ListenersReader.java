package dev.torii.server.internal;

import dev.torii.Listener;
import dev.torii.PathNormalization;
import dev.torii.server.internal.YamlReader.Fields;
import dev.torii.tcp.TcpListener;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Upstream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * The {@code listeners} section: HTTP, HTTPS and TCP listeners (DNS listeners through {@link DnsReader}), names and
 * addresses unique. Not thread-safe.
 */
final class ListenersReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("listeners");

    private static final List<String> LISTENER_KEYS = List.of(
            "name",
            "protocol",
            "address",
            "tls",
            "rateLimit",
            "tcpIdleTimeout",
            "maxTcpConnections",
            "maxPendingQueries",
            "upstream",
            "plugins",
            "idleTimeout",
            "newConnectionsPerClient",
            "access",
            "pathNormalization",
            "maxRequestsPerConnection",
            "sni",
            "proxyProtocol",
            "maxConnections");
    /** Listener keys that only {@code protocol: tcp} takes. */
    private static final List<String> TCP_LISTENER_KEYS = List.of("upstream", "plugins", "idleTimeout", "sni");

    private static final List<String> LISTENER_LATER = List.of();
    private static final List<String> SUPPORTED_PROTOCOLS = List.of("http", "https", "tcp", "dns");
    private static final List<String> LATER_PROTOCOLS = List.of();

    private final ConfigDraft draft;
    private final YamlReader yaml;

    ListenersReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.listeners = readListeners(top, draft.root);
    }

    private List<Listener> readListeners(Fields top, Node root) {
        List<Listener> listeners = new ArrayList<>();
        Node node = top.value("listeners");
        if (node == null) {
            yaml.error(root, "missing key 'listeners' (expected: at least one listener)");
            return listeners;
        }
        List<Node> items = yaml.sequence(node, "listeners");
        if (items == null) {
            return listeners;
        }
        if (items.isEmpty()) {
            yaml.error(node, "listeners: [] (expected: at least one listener)");
        }
        Map<String, String> pathByName = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            Listener l = readListener(items.get(i), "listeners[" + i + "]", pathByName);
            if (l != null) {
                listeners.add(l);
            }
        }
        return listeners;
    }

    private Listener readListener(Node node, String path, Map<String, String> pathByName) {
        Fields f = yaml.fields(node, path, LISTENER_KEYS, LISTENER_LATER);
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        String name = yaml.requiredString(f, "name");
        if (name != null) {
            String other = pathByName.putIfAbsent(name, path);
            if (other != null) {
                yaml.error(
                        f.value("name"),
                        f.path("name") + ": '" + name + "' (expected: unique; " + other + " has it already)");
            }
        }
        Node protocolNode = f.value("protocol");
        String protocol = "http";
        if (protocolNode != null) {
            protocol = yaml.string(protocolNode, f.path("protocol"));
            if (protocol != null && !SUPPORTED_PROTOCOLS.contains(protocol)) {
                yaml.error(
                        protocolNode,
                        LATER_PROTOCOLS.contains(protocol)
                                ? f.path("protocol") + ": '" + protocol + "' is not supported yet (supported: "
                                        + String.join(", ", SUPPORTED_PROTOCOLS) + ")"
                                : f.path("protocol") + ": '" + protocol + "' (expected one of: "
                                        + String.join(", ", SUPPORTED_PROTOCOLS) + ")");
            }
        }
        Node pathNormalizationNode = f.value("pathNormalization");
        if (pathNormalizationNode != null && ("tcp".equals(protocol) || "dns".equals(protocol))) {
            yaml.error(
                    pathNormalizationNode,
                    f.path("pathNormalization") + ": only for protocol http or https (this listener is " + protocol
                            + ")");
        }
        if ("tcp".equals(protocol)) {
            readTcpListener(f, path, name, before);
            return null;
        }
        for (String key : TCP_LISTENER_KEYS) {
            if (f.value(key) != null) {
                yaml.error(
                        f.value(key),
                        f.path(key) + ": only a TCP listener has it (expected: protocol: tcp, or no " + key + ")");
            }
        }
        String address = yaml.requiredString(f, "address");
        boolean addressOk = address != null && claimAddress(f, path, name, address, false);
        PathNormalization pathNormalization = pathNormalizationNode == null || "dns".equals(protocol)
                ? null
                : PathNormalizationReader.read(yaml, pathNormalizationNode, f.path("pathNormalization"));
        Node tlsNode = f.value("tls");
        ServerTls serverTls = null;
        if ("https".equals(protocol)) {
            if (tlsNode == null) {
                yaml.error(node, path + ": missing key 'tls' (expected: tls: { certificates: [ { cert, key } ] })");
            } else {
                serverTls = draft.tls.readTls(tlsNode, f.path("tls"));
            }
        } else if (tlsNode != null && protocol != null) {
            yaml.error(tlsNode, f.path("tls") + ": only for protocol https (this listener is " + protocol + ")");
        }
        if (!addressOk || yaml.errorCount() != before) {
            return null;
        }
        Listener listener;
        try {
            listener = serverTls != null ? Listener.https(name, address, serverTls) : Listener.http(name, address);
        } catch (IllegalArgumentException e) {
            yaml.error(f.value("address"), YamlReader.relabel(f.path("address"), e.getMessage()));
            return null;
        }
        if (pathNormalization != null) {
            listener = listener.withOptions(listener.options().withPathNormalization(pathNormalization));
        }
        if ("dns".equals(protocol)) {
            if (f.value("proxyProtocol") != null) {
                yaml.error(f.value("proxyProtocol"), f.path("proxyProtocol") + ": not for dns listeners");
            }
            if (f.value("maxConnections") != null) {
                yaml.error(
                        f.value("maxConnections"),
                        f.path("maxConnections") + ": not for dns listeners (expected: maxTcpConnections)");
            }
            new DnsReader(draft).readListener(f, name, address, listener, protocolNode);
            return null;
        }
        Long max = yaml.valueOr(f, "maxConnections", (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE), 0L);
        if (max != null && max > 0) {
            listener = listener.withOptions(listener.options().withMaxConnections(max.intValue()));
        }
        Node proxyNode = f.value("proxyProtocol");
        if (proxyNode != null) {
            dev.torii.ListenerOptions withProxy =
                    new ProxyProtocolReader(yaml).read(proxyNode, f.path("proxyProtocol"), listener.options());
            if (withProxy != null && withProxy.sendProxyProtocol() != null) {
                yaml.error(
                        proxyNode,
                        f.path("proxyProtocol") + ".send: only a TCP listener sends PROXY headers (expected: accept"
                                + " and trustedCidrs here; HTTP upstreams get X-Forwarded-For)");
            } else if (withProxy != null) {
                listener = listener.withOptions(withProxy);
            }
        }
        listener = listener.withOptions(readOptions(f, listener.options()));
        readGuards(f, name, false);
        for (String key : DnsReader.LISTENER_KEYS) {
            // An http or https listener's rateLimit is a request policy (read below), a dns listener's its own kind.
            if (f.value(key) != null && !key.equals("rateLimit")) {
                yaml.error(
                        f.entries().get(key).getKeyNode(),
                        f.path(key) + ": only for listeners with protocol dns (this one is '"
                                + (protocol == null ? "http" : protocol) + "')");
            }
        }
        Node maxRequests = f.value("maxRequestsPerConnection");
        if (maxRequests != null) {
            // -1 lifts the gateway's limit for this listener; 0 (or no key) keeps it.
            Long n = yaml.integer(maxRequests, f.path("maxRequestsPerConnection"), -1, Integer.MAX_VALUE);
            if (n != null) {
                listener = listener.withOptions(listener.options().withMaxRequestsPerConnection(n.intValue()));
            }
        }
        return listener;
    }

    private void readTcpListener(Fields f, String path, String name, int before) {
        String address = yaml.requiredString(f, "address");
        boolean addressOk = address != null && claimAddress(f, path, name, address, true);
        Node upstreamNode = f.value("upstream");
        String upstream = null;
        Node sniNode = f.value("sni");
        TcpSniReader.Read sni =
                sniNode == null ? null : new TcpSniReader(yaml).read(sniNode, f.path("sni"), upstreamNode != null);
        if (upstreamNode == null && sniNode != null) {
            // With SNI routing the upstream for names without a route is sni.default (or none: refused).
            if (sni != null && sni.defaultUpstream() != null) {
                upstream = sni.defaultUpstream();
                upstreamNode = sni.defaultNode();
            } else if (sni != null) {
                upstream = sni.routing().routes().values().iterator().next();
                upstreamNode = sni.upstreamNodes().values().iterator().next();
            }
        } else if (upstreamNode == null) {
            yaml.error(
                    f.node(),
                    path + ": missing key 'upstream' (expected: the upstream a TCP listener's connections go to)");
        } else {
            upstream = yaml.nonBlank(upstreamNode, f.path("upstream"), "an upstream name");
        }
        Duration idle =
                yaml.valueOr(f, "idleTimeout", (n, p) -> yaml.duration(n, p, false), TcpListener.DEFAULT_IDLE_TIMEOUT);
        dev.torii.ListenerOptions options = sni == null
                ? dev.torii.ListenerOptions.DEFAULTS
                : dev.torii.ListenerOptions.DEFAULTS.withSni(sni.routing());
        Long max = yaml.valueOr(f, "maxConnections", (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE), 0L);
        if (max != null && max > 0) {
            options = options.withMaxConnections(max.intValue());
        }
        Node proxyNode = f.value("proxyProtocol");
        if (proxyNode != null) {
            options = new ProxyProtocolReader(yaml).read(proxyNode, f.path("proxyProtocol"), options);
        }
        List<PluginsReader.Ref> refs = List.of();
        Node pluginsNode = f.value("plugins");
        if (pluginsNode != null) {
            refs = draft.plugins.readList(pluginsNode, f.path("plugins"));
        }
        if (options != null) {
            options = readOptions(f, options);
        }
        if (name != null) {
            readGuards(f, name, true);
        }
        if (!addressOk || upstream == null || idle == null || options == null || yaml.errorCount() != before) {
            return;
        }
        TcpListener listener;
        try {
            listener = TcpListener.builder(name, address, upstream)
                    .idleTimeout(idle)
                    .options(options)
                    .build();
        } catch (IllegalArgumentException e) {
            yaml.error(f.value("address"), YamlReader.relabel(f.path("address"), e.getMessage()));
            return;
        }
        draft.tcpRefs.add(new ConfigDraft.TcpRef(listener, upstreamNode, path, refs));
        if (sni != null) {
            sni.upstreamNodes()
                    .forEach((pattern, node) -> draft.sniRoutes.put(f.path("sni") + ".routes." + pattern, node));
        }
    }

    /**
     * A listener's {@code rateLimit} (policies, read by {@link RateLimitsReader}) and {@code access} (an IP list, read
     * with the {@code access} section by {@link GuardsReader}).
     */
    private void readGuards(Fields f, String name, boolean tcp) {
        Node rateLimit = f.value("rateLimit");
        if (rateLimit != null) {
            draft.rateLimits.readListener(rateLimit, f.path("rateLimit"), name, tcp);
        }
        Node access = f.value("access");
        if (access != null) {
            draft.listenerAccess.put(name, new ConfigDraft.Located(access, f.path("access")));
        }
    }

    /** The listener settings of http, https and tcp listeners alike that go into their {@code ListenerOptions}. */
    private dev.torii.ListenerOptions readOptions(Fields f, dev.torii.ListenerOptions options) {
        Node rate = f.value("newConnectionsPerClient");
        if (rate != null) {
            var b = DosReader.rate(yaml, rate, f.path("newConnectionsPerClient"));
            if (b != null) {
                options = options.withNewConnectionsPerClient(b);
            }
        }
        return options;
    }

    /**
     * Checks a listener's address on its own and claims its host and port, whatever else is wrong with the listener, so
     * that a bad or taken address is reported beside the listener's other problems and the admin and demo addresses are
     * checked against every listener.
     *
     * @return whether the address is valid and no other listener has it
     */
    private boolean claimAddress(Fields f, String path, String name, String address, boolean tcp) {
        String host;
        int port;
        try {
            if (tcp) {
                TcpListener parsed =
                        TcpListener.builder("listener", address, "upstream").build();
                host = parsed.host();
                port = parsed.port();
            } else {
                Listener parsed = Listener.http("listener", address);
                host = parsed.host();
                port = parsed.port();
            }
        } catch (IllegalArgumentException e) {
            yaml.error(f.value("address"), YamlReader.relabel(f.path("address"), e.getMessage()));
            return false;
        }
        // Port 0 means "any free port", so two of those never collide.
        if (port == 0) {
            return true;
        }
        ConfigDraft.Claim other =
                draft.addresses.putIfAbsent(host + ":" + port, new ConfigDraft.Claim(name == null ? path : name, path));
        if (other != null) {
            yaml.error(
                    f.value("address"),
                    f.path("address") + ": '" + address + "' (expected: unique; " + other.path()
                            + " listens there already)");
            return false;
        }
        return true;
    }

    /** Each TCP listener's upstream is defined; once every section is read. */
    static void checkTcpUpstreams(ConfigDraft draft) {
        Map<String, Upstream> upstreams = draft.upstreams;
        for (ConfigDraft.TcpRef t : draft.tcpRefs) {
            // A listener refusing names without an SNI route names a route's upstream: checked with the routes below.
            boolean sniRoute = draft.sniRoutes.containsValue(t.upstreamNode());
            if (!sniRoute && !upstreams.containsKey(t.listener().upstream())) {
                draft.yaml.error(
                        t.upstreamNode(),
                        t.path() + ".upstream: '" + t.listener().upstream() + "' ("
                                + (upstreams.isEmpty()
                                        ? "expected: an upstream defined under upstreams; none is"
                                        : "expected one of: " + String.join(", ", upstreams.keySet()))
                                + ")");
            }
        }
        draft.sniRoutes.forEach((path, node) -> {
            String name = draft.yaml.string(node, path);
            if (name != null && !upstreams.containsKey(name)) {
                draft.yaml.error(
                        node,
                        path + ": '" + name + "' ("
                                + (upstreams.isEmpty()
                                        ? "expected: an upstream defined under upstreams; none is"
                                        : "expected one of: " + String.join(", ", upstreams.keySet()))
                                + ")");
            }
        });
    }
}
