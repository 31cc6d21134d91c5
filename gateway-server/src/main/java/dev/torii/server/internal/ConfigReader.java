package dev.torii.server.internal;

import dev.torii.Forwarding;
import dev.torii.Http2Limits;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsRateLimit;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.route.Route;
import dev.torii.route.RouteMatch;
import dev.torii.route.RoutingTable;
import dev.torii.server.config.AdminSettings;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.DnsListenerSettings;
import dev.torii.server.config.DnsSettings;
import dev.torii.server.config.MaintenanceSettings;
import dev.torii.server.config.ObservabilitySettings;
import dev.torii.server.config.PluginSettings;
import dev.torii.server.config.ServerConfig;
import dev.torii.server.config.TcpListenerSettings;
import dev.torii.server.internal.YamlReader.Fields;
import dev.torii.tcp.TcpListener;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import dev.torii.upstream.UpstreamTls;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;

/**
 * Turns the text of a {@code torii.yaml} into a {@link ServerConfig}, or into every problem found in it: the schema
 * of the file (which keys, which types, which references), on top of {@link YamlReader}, which locates values.
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
    private static final List<String> TOP_KEYS = List.of(
            "listeners",
            "routes",
            "upstreams",
            "limits",
            "forwarding",
            "ioThreads",
            "demo",
            "plugins",
            "dns",
            "admin",
            "maintenance",
            "accessLog", // obs: ObservabilityReader
            "tracing");
    private static final List<String> TOP_LATER = List.of();
    private static final List<String> ADMIN_KEYS = List.of("address", "token");
    private static final List<String> DNS_KEYS =
            List.of("upstreams", "forceTcp", "minTtl", "maxTtl", "staleFor", "queryTimeout");
    /** Keys of a listener with protocol dns only. */
    private static final List<String> DNS_LISTENER_KEYS =
            List.of("rateLimit", "tcpIdleTimeout", "maxTcpConnections", "maxPendingQueries");

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
            "idleTimeout");
    /** Listener keys that only {@code protocol: tcp} takes. */
    private static final List<String> TCP_LISTENER_KEYS = List.of("upstream", "plugins", "idleTimeout");

    private static final List<String> RATE_LIMIT_KEYS = List.of("rate", "per", "burst", "overLimit", "maxClients");
    private static final List<String> LISTENER_LATER = List.of();
    private static final List<String> SUPPORTED_PROTOCOLS = List.of("http", "https", "tcp", "dns");
    private static final List<String> LATER_PROTOCOLS = List.of();
    private static final List<String> MAINTENANCE_KEYS =
            List.of("enabled", "file", "page", "contentType", "retryAfter", "bypass", "respond");
    private static final List<String> ROUTE_KEYS =
            List.of("name", "match", "upstream", "hostRewrite", "hostFromEndpoint", "plugins");
    private static final List<String> ROUTE_LATER = List.of("rateLimit");
    private static final List<String> MATCH_KEYS = List.of("host", "pathPrefix", "methods", "headers");
    private static final List<String> UPSTREAM_KEYS = List.of(
            "endpoints",
            "loadBalancer",
            "connectTimeout",
            "responseTimeout",
            "maxConnectionsPerEndpoint",
            "maxIdlePerEndpoint",
            "idleTimeout",
            "maxPendingAcquires",
            "protocol",
            "tls");
    private static final List<String> UPSTREAM_TLS_KEYS = List.of("ca", "serverName", "verify");
    private static final List<String> LIMITS_KEYS = List.of(
            "maxRequestLineLength",
            "maxHeaderSize",
            "maxRequestBodySize",
            "headerReadTimeout",
            "idleTimeout",
            "maxConnections",
            "shutdownTimeout",
            "http2");
    private static final List<String> FORWARDING_KEYS = List.of("via", "viaName", "xForwarded", "trustedProxies");
    private static final List<String> DEMO_KEYS = List.of("echo");

    /** RFC 9110 token: methods, header names and the Via pseudonym. */
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+");

    private final YamlReader yaml;
    private final PluginsReader plugins;
    private final TlsReader tls;
    private final ObservabilityReader observability;
    private Http2Limits http2Limits = Http2Limits.defaults();
    /** The listeners with protocol dns, and where each says so (for the check that a dns: section exists). */
    private final List<DnsListenerSettings> dnsListeners = new ArrayList<>();

    private final Map<Node, String> dnsProtocolNodes = new LinkedHashMap<>();
    private final Path baseDirectory;
    private final List<TcpRef> tcpRefs = new ArrayList<>();

    /** A TCP listener as read, with what is checked once the upstreams and plugins are known. */
    private record TcpRef(TcpListener listener, Node upstreamNode, String path, List<PluginsReader.Ref> plugins) {}

    private ConfigReader(String source, Path baseDirectory) {
        this.yaml = new YamlReader(source);
        this.baseDirectory = baseDirectory;
        this.plugins = new PluginsReader(yaml, baseDirectory);
        this.tls = new TlsReader(yaml, baseDirectory);
        this.observability = new ObservabilityReader(yaml, baseDirectory);
    }

    /**
     * Reads a whole configuration.
     *
     * @param source the file name to put in front of each error, as the user wrote it
     * @param text the YAML text
     * @throws ConfigException with every problem found, sorted by position
     */
    public static ServerConfig read(String source, String text) throws ConfigException {
        return read(source, text, null);
    }

    /**
     * Reads a whole configuration whose relative paths (the plugin directory) are relative to {@code baseDirectory}.
     *
     * @param baseDirectory the configuration file's directory; {@code null} for the working directory
     * @throws ConfigException with every problem found, sorted by position
     */
    public static ServerConfig read(String source, String text, Path baseDirectory) throws ConfigException {
        var reader = new ConfigReader(Objects.requireNonNull(source, "source"), baseDirectory);
        try {
            return reader.readDocument(text);
        } finally {
            reader.plugins.close();
        }
    }

    private ServerConfig readDocument(String text) throws ConfigException {
        Node root = yaml.compose(text, "a mapping with listeners, routes and upstreams");
        Fields top = yaml.fields(root, "", TOP_KEYS, TOP_LATER);
        if (top == null) {
            throw yaml.failure();
        }

        List<Listener> listeners = readListeners(top, root);
        Map<String, Upstream> upstreams = readUpstreams(top.value("upstreams"));
        List<RouteRef> routes = readRoutes(top.value("routes"));
        Limits limits = readLimits(top.value("limits"));
        Forwarding forwarding = readForwarding(top.value("forwarding"));
        int ioThreads = Runtime.getRuntime().availableProcessors();
        Node io = top.value("ioThreads");
        if (io != null) {
            Long n = yaml.integer(io, "ioThreads", 1, Integer.MAX_VALUE);
            ioThreads = n == null ? ioThreads : n.intValue();
        }
        Optional<Endpoint> demoEcho = readDemo(top.value("demo"), listeners);
        Optional<DnsSettings> dns = readDns(top.value("dns"));
        if (top.value("dns") == null) {
            for (var e : dnsProtocolNodes.entrySet()) {
                yaml.error(
                        e.getKey(),
                        e.getValue()
                                + ": 'dns' needs the dns section, whose cache it serves (expected: dns: { upstreams:"
                                + " [ \"10.96.0.10:53\" ] } at the top level)");
            }
        }
        Optional<AdminSettings> admin = readAdmin(top.value("admin"), listeners);
        plugins.readSection(top.value("plugins"));
        MaintenanceSettings maintenance = readMaintenance(top.value("maintenance"));
        ObservabilitySettings observed = observability.read(top.value("accessLog"), top.value("tracing"));
        checkTcpUpstreams(upstreams);

        RoutingTable table = buildRoutingTable(top, routes, upstreams);
        // Plugins are loaded last (each loading evaluates a module) but even when the file has other problems, so that
        // one run of `torii check` lists everything.
        Map<String, List<PluginsReader.Ref>> routePlugins = new LinkedHashMap<>();
        routes.forEach(r -> routePlugins.put(r.name(), r.plugins()));
        PluginSettings pluginSettings = plugins.resolve(routePlugins);
        List<TcpListenerSettings> tcpListeners = new ArrayList<>();
        for (TcpRef t : tcpRefs) {
            tcpListeners.add(new TcpListenerSettings(t.listener(), plugins.uses(t.plugins())));
        }
        if (listeners.isEmpty() && tcpListeners.isEmpty() && dnsListeners.isEmpty() && yaml.errorCount() == 0) {
            yaml.error(root, "listeners: none could be read (expected: at least one listener)");
        }
        if (yaml.errorCount() > 0) {
            throw yaml.failure();
        }
        return new ServerConfig(
                listeners,
                table,
                limits,
                http2Limits,
                forwarding,
                ioThreads,
                demoEcho,
                pluginSettings,
                dns,
                dnsListeners,
                admin,
                tcpListeners,
                maintenance,
                observed);
    }

    // ---------------------------------------------------------------------------------------------- listeners

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
        if ("tcp".equals(protocol)) {
            readTcpListener(f, path, name, before, pathByAddress);
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
        Node tlsNode = f.value("tls");
        ServerTls serverTls = null;
        if ("https".equals(protocol)) {
            if (tlsNode == null) {
                yaml.error(node, path + ": missing key 'tls' (expected: tls: { certificates: [ { cert, key } ] })");
            } else {
                serverTls = tls.readTls(tlsNode, f.path("tls"));
            }
        } else if (tlsNode != null && protocol != null) {
            yaml.error(tlsNode, f.path("tls") + ": only for protocol https (this listener is " + protocol + ")");
        }
        if (address == null || yaml.errorCount() != before) {
            return null;
        }
        Listener listener;
        try {
            listener = serverTls != null ? Listener.https(name, address, serverTls) : Listener.http(name, address);
        } catch (IllegalArgumentException e) {
            yaml.error(f.value("address"), YamlReader.relabel(f.path("address"), e.getMessage()));
            return null;
        }
        // Port 0 means "any free port", so two of those never collide.
        if (listener.port() != 0) {
            String other = pathByAddress.putIfAbsent(listener.host() + ":" + listener.port(), path);
            if (other != null) {
                yaml.error(
                        f.value("address"),
                        f.path("address") + ": '" + address + "' (expected: unique; " + other
                                + " listens there already)");
                return null;
            }
        }
        if ("dns".equals(protocol)) {
            readDnsListener(f, name, address, listener, protocolNode);
            return null;
        }
        for (String key : DNS_LISTENER_KEYS) {
            if (f.value(key) != null) {
                yaml.error(
                        f.entries().get(key).getKeyNode(),
                        f.path(key) + ": only for listeners with protocol dns (this one is '"
                                + (protocol == null ? "http" : protocol) + "')");
            }
        }
        return listener;
    }

    private void readDnsListener(Fields f, String name, String address, Listener parsed, Node protocolNode) {
        dnsProtocolNodes.put(protocolNode, f.path("protocol"));
        try {
            InetAddress.ofLiteral(parsed.host());
        } catch (IllegalArgumentException e) {
            yaml.error(
                    f.value("address"),
                    f.path("address") + ": '" + address
                            + "' (expected: an IP address and a port for a dns listener, like 169.254.20.10:53)");
            return;
        }
        int before = yaml.errorCount();
        Optional<DnsRateLimit> rateLimit = Optional.empty();
        Node rateNode = f.value("rateLimit");
        if (rateNode != null) {
            rateLimit = readDnsRateLimit(rateNode, f.path("rateLimit"));
        }
        Duration idle = yaml.valueOr(f, "tcpIdleTimeout", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(10));
        long maxTcp = yaml.valueOr(f, "maxTcpConnections", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), 1_024L);
        long maxPending =
                yaml.valueOr(f, "maxPendingQueries", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), 10_000L);
        if (yaml.errorCount() == before) {
            dnsListeners.add(new DnsListenerSettings(name, address, rateLimit, idle, (int) maxTcp, (int) maxPending));
        }
    }

    private Optional<DnsRateLimit> readDnsRateLimit(Node node, String path) {
        Fields f = yaml.fields(node, path, RATE_LIMIT_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        int before = yaml.errorCount();
        Long rate = null;
        Node rateNode = f.value("rate");
        if (rateNode == null) {
            yaml.error(node, path + ": missing key 'rate' (expected: queries per 'per' and client, e.g. rate: 200)");
        } else {
            rate = yaml.integer(rateNode, f.path("rate"), 1, Long.MAX_VALUE);
        }
        Duration per = yaml.valueOr(f, "per", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        Long burst = yaml.valueOr(f, "burst", (n, p) -> yaml.integer(n, p, 1, Long.MAX_VALUE), rate);
        DnsRateLimit.OverLimit overLimit = DnsRateLimit.OverLimit.DROP;
        Node overNode = f.value("overLimit");
        if (overNode != null) {
            String text = yaml.string(overNode, f.path("overLimit"));
            if (text != null) {
                overLimit = Arrays.stream(DnsRateLimit.OverLimit.values())
                        .filter(o -> o.configName().equals(text))
                        .findFirst()
                        .orElse(null);
                if (overLimit == null) {
                    yaml.error(overNode, f.path("overLimit") + ": '" + text + "' (expected one of: drop, refuse)");
                }
            }
        }
        long maxClients = yaml.valueOr(f, "maxClients", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), (long)
                DnsRateLimit.DEFAULT_MAX_CLIENTS);
        if (yaml.errorCount() != before || rate == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new DnsRateLimit(rate, per, burst, overLimit, (int) maxClients));
        } catch (IllegalArgumentException e) {
            yaml.builderError(f, e);
            return Optional.empty();
        }
    }

    private void readTcpListener(Fields f, String path, String name, int before, Map<String, String> pathByAddress) {
        String address = yaml.requiredString(f, "address");
        Node upstreamNode = f.value("upstream");
        String upstream = null;
        if (upstreamNode == null) {
            yaml.error(
                    f.node(),
                    path + ": missing key 'upstream' (expected: the upstream a TCP listener's connections go to)");
        } else {
            upstream = yaml.nonBlank(upstreamNode, f.path("upstream"), "an upstream name");
        }
        Duration idle =
                yaml.valueOr(f, "idleTimeout", (n, p) -> yaml.duration(n, p, false), TcpListener.DEFAULT_IDLE_TIMEOUT);
        List<PluginsReader.Ref> refs = List.of();
        Node pluginsNode = f.value("plugins");
        if (pluginsNode != null) {
            refs = plugins.readList(pluginsNode, f.path("plugins"));
        }
        if (address == null || upstream == null || idle == null || yaml.errorCount() != before) {
            return;
        }
        TcpListener listener;
        try {
            listener = TcpListener.builder(name, address, upstream)
                    .idleTimeout(idle)
                    .build();
        } catch (IllegalArgumentException e) {
            yaml.error(f.value("address"), YamlReader.relabel(f.path("address"), e.getMessage()));
            return;
        }
        if (listener.port() != 0) {
            String other = pathByAddress.putIfAbsent(listener.host() + ":" + listener.port(), path);
            if (other != null) {
                yaml.error(
                        f.value("address"),
                        f.path("address") + ": '" + address + "' (expected: unique; " + other
                                + " listens there already)");
                return;
            }
        }
        tcpRefs.add(new TcpRef(listener, upstreamNode, path, refs));
    }

    private void checkTcpUpstreams(Map<String, Upstream> upstreams) {
        for (TcpRef t : tcpRefs) {
            if (!upstreams.containsKey(t.listener().upstream())) {
                yaml.error(
                        t.upstreamNode(),
                        t.path() + ".upstream: '" + t.listener().upstream() + "' ("
                                + (upstreams.isEmpty()
                                        ? "expected: an upstream defined under upstreams; none is"
                                        : "expected one of: " + String.join(", ", upstreams.keySet()))
                                + ")");
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- maintenance

    private MaintenanceSettings readMaintenance(Node node) {
        MaintenanceSettings defaults = MaintenanceSettings.defaults();
        if (node == null) {
            return defaults;
        }
        Fields f = yaml.fields(node, "maintenance", MAINTENANCE_KEYS, List.of());
        if (f == null) {
            return defaults;
        }
        boolean enabled = yaml.valueOr(f, "enabled", yaml::bool, false);
        boolean respond = yaml.valueOr(f, "respond", yaml::bool, true);
        Duration retryAfter = yaml.valueOr(f, "retryAfter", (n, p) -> yaml.duration(n, p, true), defaults.retryAfter());
        Optional<Path> file = Optional.empty();
        Node fileNode = f.value("file");
        if (fileNode != null) {
            String text = yaml.nonBlank(fileNode, f.path("file"), "a path, e.g. maintenance.on");
            if (text != null) {
                Path p = resolve(text);
                if (p.getParent() != null && !Files.isDirectory(p.getParent())) {
                    yaml.error(
                            fileNode,
                            f.path("file") + ": '" + text + "' (expected: a path in an existing directory; "
                                    + p.getParent() + " is not one)");
                } else {
                    file = Optional.of(p);
                }
            }
        }
        Optional<byte[]> page = Optional.empty();
        String contentType = defaults.contentType();
        Node pageNode = f.value("page");
        if (pageNode != null) {
            String text = yaml.nonBlank(pageNode, f.path("page"), "a file, e.g. maintenance.html");
            if (text != null) {
                Path p = resolve(text);
                try {
                    page = Optional.of(Files.readAllBytes(p));
                    contentType = contentTypeOf(p);
                } catch (IOException e) {
                    yaml.error(
                            pageNode,
                            f.path("page") + ": '" + text + "' (expected: a readable file; " + p + ": "
                                    + (e instanceof java.nio.file.NoSuchFileException ? "no such file" : e.toString())
                                    + ")");
                }
            }
        }
        Node typeNode = f.value("contentType");
        if (typeNode != null) {
            String type = yaml.nonBlank(typeNode, f.path("contentType"), "a media type, e.g. text/html");
            if (type != null) {
                contentType = type;
                if (pageNode == null) {
                    yaml.error(
                            typeNode,
                            f.path("contentType") + ": '" + type + "' (expected: only with page, which it describes)");
                }
            }
        }
        List<String> bypass = new ArrayList<>();
        Node bypassNode = f.value("bypass");
        if (bypassNode != null) {
            List<Node> items = yaml.sequence(bypassNode, f.path("bypass"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("bypass") + "[" + i + "]";
                String cidr = yaml.string(items.get(i), itemPath);
                if (cidr != null
                        && yaml.probe(items.get(i), itemPath, () -> MaintenanceMode.builder()
                                .bypass(List.of(cidr))
                                .build())) {
                    bypass.add(cidr);
                }
            }
        }
        var settings = new MaintenanceSettings(
                enabled,
                file,
                page,
                contentType,
                retryAfter == null ? defaults.retryAfter() : retryAfter,
                bypass,
                respond);
        try {
            settings.newMode();
        } catch (IllegalArgumentException e) {
            yaml.builderError(f, e);
        }
        return settings;
    }

    private Path resolve(String path) {
        Path p = Path.of(path);
        return (baseDirectory == null || p.isAbsolute() ? p : baseDirectory.resolve(p)).normalize();
    }

    private static String contentTypeOf(Path page) {
        String name = page.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".html") || name.endsWith(".htm")) {
            return "text/html; charset=utf-8";
        }
        if (name.endsWith(".json")) {
            return "application/json";
        }
        return "text/plain; charset=utf-8";
    }

    // ---------------------------------------------------------------------------------------------- upstreams

    private Map<String, Upstream> readUpstreams(Node node) {
        Map<String, Upstream> upstreams = new LinkedHashMap<>();
        if (node == null) {
            return upstreams;
        }
        Map<String, NodeTuple> entries = yaml.mapping(node, "upstreams");
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
        Fields f = yaml.fields(node, path, UPSTREAM_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Upstream.Builder b = Upstream.builder(name);
        Node endpointsNode = f.value("endpoints");
        if (endpointsNode == null) {
            yaml.error(node, path + ": missing key 'endpoints' (expected: a list of host:port)");
        } else {
            List<Node> items = yaml.sequence(endpointsNode, f.path("endpoints"));
            if (items != null && items.isEmpty()) {
                yaml.error(endpointsNode, f.path("endpoints") + ": [] (expected: at least one host:port)");
            }
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("endpoints") + "[" + i + "]";
                String text = yaml.string(items.get(i), itemPath);
                if (text != null) {
                    try {
                        b.endpoint(Endpoint.parse(text));
                    } catch (IllegalArgumentException e) {
                        yaml.error(items.get(i), YamlReader.relabel(itemPath, e.getMessage()));
                    }
                }
            }
        }
        Node lbNode = f.value("loadBalancer");
        if (lbNode != null) {
            String lb = yaml.string(lbNode, f.path("loadBalancer"));
            if (lb != null) {
                LoadBalancing policy = Arrays.stream(LoadBalancing.values())
                        .filter(p -> p.configName().equals(lb))
                        .findFirst()
                        .orElse(null);
                if (policy == null) {
                    yaml.error(
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
        yaml.set(f, "connectTimeout", (n, p) -> yaml.duration(n, p, false), b::connectTimeout);
        yaml.set(f, "responseTimeout", (n, p) -> yaml.duration(n, p, false), b::responseTimeout);
        yaml.set(f, "idleTimeout", (n, p) -> yaml.duration(n, p, false), b::idleTimeout);
        yaml.set(
                f,
                "maxConnectionsPerEndpoint",
                (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxConnectionsPerEndpoint(v.intValue()));
        yaml.set(
                f,
                "maxIdlePerEndpoint",
                (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxIdlePerEndpoint(v.intValue()));
        yaml.set(
                f,
                "maxPendingAcquires",
                (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxPendingAcquires(v.intValue()));
        Node protocolNode = f.value("protocol");
        UpstreamProtocol protocol = UpstreamProtocol.HTTP_1_1;
        if (protocolNode != null) {
            String text = yaml.string(protocolNode, f.path("protocol"));
            if (text != null) {
                try {
                    protocol = UpstreamProtocol.ofConfigName(text);
                    b.protocol(protocol);
                } catch (IllegalArgumentException e) {
                    yaml.error(protocolNode, YamlReader.relabel(f.path("protocol"), e.getMessage()));
                    protocol = null;
                }
            }
        }
        Node tlsNode = f.value("tls");
        if (tlsNode != null && protocol != null && !protocol.tls()) {
            yaml.error(
                    tlsNode,
                    f.path("tls") + ": set with protocol " + protocol.configName()
                            + " (expected: protocol https or h2 to use TLS settings)");
        } else if (tlsNode != null) {
            UpstreamTls tls = readUpstreamTls(tlsNode, f.path("tls"));
            if (tls != null) {
                b.tls(tls);
            }
        }
        return yaml.build(f, before, () -> b.build());
    }

    /** {@code tls: { ca: certs/ca.pem, serverName: api.internal, verify: true }}; {@code ca} relative to the file. */
    private UpstreamTls readUpstreamTls(Node node, String path) {
        Fields f = yaml.fields(node, path, UPSTREAM_TLS_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        UpstreamTls.Builder b = UpstreamTls.builder();
        Node caNode = f.value("ca");
        if (caNode != null) {
            String ca = yaml.nonBlank(caNode, f.path("ca"), "a PEM file of CA certificates");
            if (ca != null) {
                Path file = Path.of(ca);
                Path resolved =
                        (baseDirectory == null || file.isAbsolute() ? file : baseDirectory.resolve(file)).normalize();
                String problem = caFileProblem(resolved);
                if (problem != null) {
                    yaml.error(caNode, f.path("ca") + ": " + ca + " (" + problem + ")");
                } else {
                    b.caFile(resolved);
                }
            }
        }
        Node nameNode = f.value("serverName");
        if (nameNode != null) {
            String name = yaml.nonBlank(nameNode, f.path("serverName"), "a host name");
            if (name != null && yaml.probe(nameNode, f.path("serverName"), () -> new UpstreamTls(null, name, true))) {
                b.serverName(name);
            }
        }
        Node verifyNode = f.value("verify");
        if (verifyNode != null) {
            Boolean verify = yaml.bool(verifyNode, f.path("verify"));
            if (Boolean.FALSE.equals(verify)) {
                b.insecureSkipVerify();
            }
        }
        return yaml.build(f, before, () -> b.build());
    }

    /** Why {@code file} is not a usable PEM file of CA certificates, or null when it is. */
    private static String caFileProblem(Path file) {
        if (!Files.isReadable(file)) {
            return "expected: a readable PEM file of CA certificates; " + file + " cannot be read";
        }
        try (var in = Files.newInputStream(file)) {
            var certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
            return certificates.isEmpty() ? "expected: PEM certificates; " + file + " holds none" : null;
        } catch (IOException | CertificateException e) {
            return "expected: PEM certificates; " + file + " cannot be parsed: " + e.getMessage();
        }
    }

    // ---------------------------------------------------------------------------------------------- routes

    /**
     * A route as read ({@code route} is {@code null} when it has problems), with the node naming its upstream so a
     * dangling name is reported there even when the route has other problems too.
     */
    private record RouteRef(
            Route route,
            String name,
            String upstream,
            Node upstreamNode,
            String path,
            List<PluginsReader.Ref> plugins) {}

    private List<RouteRef> readRoutes(Node node) {
        List<RouteRef> routes = new ArrayList<>();
        if (node == null) {
            return routes;
        }
        List<Node> items = yaml.sequence(node, "routes");
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
        List<PluginsReader.Ref> pluginRefs = List.of();
        Node pluginsNode = f.value("plugins");
        if (pluginsNode != null) {
            pluginRefs = plugins.readList(pluginsNode, f.path("plugins"));
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
                : new RouteRef(route, name == null ? path : name, upstream, f.value("upstream"), path, pluginRefs);
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
                    if (TOKEN.matcher(method).matches()) {
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
                    if (!TOKEN.matcher(name).matches()) {
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

    private RoutingTable buildRoutingTable(Fields top, List<RouteRef> routes, Map<String, Upstream> upstreams) {
        for (RouteRef r : routes) {
            if (!upstreams.containsKey(r.upstream())) {
                yaml.error(
                        r.upstreamNode(),
                        r.path() + ".upstream: '" + r.upstream() + "' ("
                                + (upstreams.isEmpty()
                                        ? "expected: an upstream defined under upstreams; none is"
                                        : "expected one of: " + String.join(", ", upstreams.keySet()))
                                + ")");
            }
        }
        if (yaml.errorCount() > 0) {
            return null;
        }
        RoutingTable.Builder b = RoutingTable.builder();
        upstreams.values().forEach(b::upstream);
        routes.forEach(r -> b.route(r.route()));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            yaml.builderError(top, e);
            return null;
        }
    }

    // ---------------------------------------------------------------------------------------------- limits etc.

    private Limits readLimits(Node node) {
        if (node == null) {
            return Limits.defaults();
        }
        Fields f = yaml.fields(node, "limits", LIMITS_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Limits.Builder b = Limits.builder();
        yaml.set(
                f,
                "maxRequestLineLength",
                (n, p) -> yaml.size(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxRequestLineLength(v.intValue()));
        yaml.set(
                f,
                "maxHeaderSize",
                (n, p) -> yaml.size(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxHeaderSize(v.intValue()));
        yaml.set(f, "maxRequestBodySize", this::bodySize, b::maxRequestBodySize);
        yaml.set(f, "headerReadTimeout", (n, p) -> yaml.duration(n, p, false), b::headerReadTimeout);
        yaml.set(f, "idleTimeout", (n, p) -> yaml.duration(n, p, false), b::idleTimeout);
        yaml.set(
                f,
                "maxConnections",
                (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxConnections(v.intValue()));
        yaml.set(f, "shutdownTimeout", (n, p) -> yaml.duration(n, p, true), b::shutdownTimeout);
        Http2Limits h2 = tls.readHttp2Limits(f.value("http2"), f.path("http2"));
        if (h2 != null) {
            http2Limits = h2;
        }
        return yaml.build(f, before, () -> b.build());
    }

    /** A size, or {@code unlimited}: the engine's default, which a file could not otherwise restore. */
    private Long bodySize(Node node, String path) {
        if (node instanceof ScalarNode s && s.getValue().equals("unlimited")) {
            return Long.MAX_VALUE;
        }
        return yaml.size(node, path, 0, Long.MAX_VALUE);
    }

    private Forwarding readForwarding(Node node) {
        Forwarding defaults = Forwarding.defaults();
        if (node == null) {
            return defaults;
        }
        Fields f = yaml.fields(node, "forwarding", FORWARDING_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        boolean via = yaml.valueOr(f, "via", yaml::bool, defaults.via());
        boolean xForwarded = yaml.valueOr(f, "xForwarded", yaml::bool, defaults.xForwarded());
        String viaName = defaults.viaName();
        Node viaNameNode = f.value("viaName");
        if (viaNameNode != null) {
            viaName = yaml.string(viaNameNode, f.path("viaName"));
            if (viaName != null && !TOKEN.matcher(viaName).matches()) {
                yaml.error(
                        viaNameNode,
                        f.path("viaName") + ": '" + viaName + "' (expected: a token like torii, no spaces)");
            }
        }
        List<String> trusted = new ArrayList<>(defaults.trustedProxies());
        Node trustedNode = f.value("trustedProxies");
        if (trustedNode != null) {
            trusted.clear();
            List<Node> items = yaml.sequence(trustedNode, f.path("trustedProxies"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("trustedProxies") + "[" + i + "]";
                String cidr = yaml.string(items.get(i), itemPath);
                if (cidr != null
                        && yaml.probe(items.get(i), itemPath, () -> new Forwarding(true, "x", true, List.of(cidr)))) {
                    trusted.add(cidr);
                }
            }
        }
        String name = viaName;
        return yaml.build(f, before, () -> new Forwarding(via, name, xForwarded, trusted));
    }

    // ---------------------------------------------------------------------------------------------- dns

    private Optional<DnsSettings> readDns(Node node) {
        if (node == null) {
            return Optional.empty();
        }
        Fields f = yaml.fields(node, "dns", DNS_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        int before = yaml.errorCount();
        List<String> upstreams = new ArrayList<>();
        Node upstreamsNode = f.value("upstreams");
        if (upstreamsNode == null) {
            yaml.error(
                    f.node(),
                    f.path("upstreams") + ": missing (expected: DNS servers as IP:port, e.g. [ \"10.96.0.10:53\" ])");
        } else {
            List<Node> items = yaml.sequence(upstreamsNode, f.path("upstreams"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("upstreams") + "[" + i + "]";
                String server = yaml.string(items.get(i), itemPath);
                if (server != null && yaml.probe(items.get(i), itemPath, () -> checkDnsServer(server))) {
                    upstreams.add(server);
                }
            }
        }
        boolean forceTcp = yaml.valueOr(f, "forceTcp", yaml::bool, false);
        Duration minTtl = yaml.valueOr(f, "minTtl", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        Duration maxTtl = yaml.valueOr(f, "maxTtl", (n, p) -> yaml.duration(n, p, false), Duration.ofMinutes(5));
        Duration staleFor = yaml.valueOr(f, "staleFor", (n, p) -> yaml.duration(n, p, true), Duration.ofHours(1));
        Duration queryTimeout =
                yaml.valueOr(f, "queryTimeout", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        if (yaml.errorCount() != before) {
            return Optional.empty();
        }
        var settings = new DnsSettings(upstreams, forceTcp, minTtl, maxTtl, staleFor, queryTimeout);
        try {
            // build() validates the combination (e.g. maxTtl >= minTtl); the cache is closed at once.
            settings.newCache().close();
        } catch (IllegalArgumentException e) {
            yaml.builderError(f, e);
            return Optional.empty();
        }
        return Optional.of(settings);
    }

    private static void checkDnsServer(String server) {
        DnsCache.builder()
                .upstreams(server)
                .maxTtl(Duration.ofMinutes(5))
                .build()
                .close();
    }

    private Optional<AdminSettings> readAdmin(Node node, List<Listener> listeners) {
        if (node == null) {
            return Optional.empty();
        }
        Fields f = yaml.fields(node, "admin", ADMIN_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        observability.readAdminToken(f.value("token"));
        String address = yaml.requiredString(f, "address");
        if (address == null) {
            return Optional.empty();
        }
        Listener parsed;
        try {
            parsed = Listener.http("admin", address);
        } catch (IllegalArgumentException e) {
            yaml.error(
                    f.value("address"),
                    f.path("address") + ": '" + address + "' (expected: host:port, e.g. 127.0.0.1:9901)");
            return Optional.empty();
        }
        if (parsed.port() != 0) {
            for (Listener l : listeners) {
                if (l.port() == parsed.port() && l.host().equals(parsed.host())) {
                    yaml.error(
                            f.value("address"),
                            f.path("address") + ": '" + address + "' (expected: an address no listener uses; listener '"
                                    + l.name() + "' is there)");
                    return Optional.empty();
                }
            }
            for (DnsListenerSettings d : dnsListeners) {
                Listener l = Listener.http(d.name(), d.address());
                if (l.port() == parsed.port() && l.host().equals(parsed.host())) {
                    yaml.error(
                            f.value("address"),
                            f.path("address") + ": '" + address + "' (expected: an address no listener uses; listener '"
                                    + l.name() + "' is there)");
                    return Optional.empty();
                }
            }
        }
        return Optional.of(new AdminSettings(parsed.host(), parsed.port()));
    }

    private Optional<Endpoint> readDemo(Node node, List<Listener> listeners) {
        if (node == null) {
            return Optional.empty();
        }
        Fields f = yaml.fields(node, "demo", DEMO_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        Node echoNode = f.value("echo");
        if (echoNode == null) {
            return Optional.empty();
        }
        String text = yaml.string(echoNode, f.path("echo"));
        if (text == null) {
            return Optional.empty();
        }
        Endpoint echo;
        try {
            echo = Endpoint.parse(text);
        } catch (IllegalArgumentException e) {
            yaml.error(echoNode, f.path("echo") + ": '" + text + "' (expected: host:port, e.g. 127.0.0.1:9000)");
            return Optional.empty();
        }
        for (Listener l : listeners) {
            if (l.port() == echo.port() && l.host().equals(echo.host())) {
                yaml.error(
                        echoNode,
                        f.path("echo") + ": '" + text + "' (expected: an address no listener uses; listener '"
                                + l.name() + "' is there)");
                return Optional.empty();
            }
        }
        return Optional.of(echo);
    }
}
