package dev.torii.server.internal;

import dev.torii.Forwarding;
import dev.torii.Http2Limits;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.server.config.AdminSettings;
import dev.torii.server.config.DnsListenerSettings;
import dev.torii.server.config.DnsSettings;
import dev.torii.server.config.GuardSettings;
import dev.torii.server.config.MaintenanceSettings;
import dev.torii.server.config.ObservabilitySettings;
import dev.torii.tcp.TcpListener;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.Upstream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * What the {@link SectionReader}s of one file share: the tools to read with (the YAML reader that records problems,
 * the plugin and TLS readers, the file's directory) and what each section has read so far, which later sections and
 * {@link ConfigReader} check against each other (listener addresses against the admin address, route upstreams
 * against the upstreams...). A value is {@code null} or missing when its section had problems.
 *
 * <p>One instance per file read; not thread-safe.
 */
final class ConfigDraft {
    /** RFC 9110 token: methods, header names and the Via pseudonym. */
    static final Pattern TOKEN = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+");

    /** A TCP listener as read, with what is checked once the upstreams and plugins are known. */
    record TcpRef(TcpListener listener, Node upstreamNode, String path, List<PluginsReader.Ref> plugins) {}

    /**
     * A route as read ({@code route} is {@code null} when it has problems), with the node naming its upstream so a
     * dangling name is reported there even when the route has other problems too.
     */
    record RouteRef(
            Route route,
            String name,
            String upstream,
            Node upstreamNode,
            String path,
            List<PluginsReader.Ref> plugins) {}

    /** A host and port a listener claims: its name (or its path when it has none) and where it is in the file. */
    record Claim(String name, String path) {}

    final YamlReader yaml;
    final Path baseDirectory;
    final PluginsReader plugins;
    final TlsReader tls;
    final Node root;
    /** The rate-limit policies ({@code rateLimits}, {@code rateLimit}, {@code redis}) and the routes that use them. */
    final RateLimitsReader rateLimits;
    /** The access log and tracing sections, and the admin API's token. */
    final ObservabilityReader observability;

    List<Listener> listeners = new ArrayList<>();
    /** The listeners with protocol dns. */
    final List<DnsListenerSettings> dnsListeners = new ArrayList<>();
    /** Where each dns listener says {@code protocol: dns} (for the check that a dns: section exists). */
    final Map<Node, String> dnsProtocolNodes = new LinkedHashMap<>();

    final List<TcpRef> tcpRefs = new ArrayList<>();
    /** Each TCP listener's SNI route ({@code listeners[i].sni.routes.NAME}) to the node naming its upstream. */
    final Map<String, Node> sniRoutes = new LinkedHashMap<>();
    /**
     * Every listener's {@code host:port} (port 0 excepted), whatever else is wrong with the listener, so that a clash
     * with another listener or with the admin and demo addresses is reported in the same run as the listener's other
     * problems.
     */
    final Map<String, Claim> addresses = new HashMap<>();

    Map<String, Upstream> upstreams = new LinkedHashMap<>();
    List<RouteRef> routes = new ArrayList<>();
    Limits limits = Limits.defaults();
    Http2Limits http2Limits = Http2Limits.defaults();
    Forwarding forwarding = Forwarding.defaults();
    int ioThreads = Runtime.getRuntime().availableProcessors();
    Optional<Endpoint> demoEcho = Optional.empty();
    Optional<DnsSettings> dns = Optional.empty();
    Optional<AdminSettings> admin = Optional.empty();
    MaintenanceSettings maintenance = MaintenanceSettings.defaults();
    GuardSettings guards = GuardSettings.defaults();
    /** Each listener's {@code access} list node, by listener name, for {@link GuardsReader}. */
    final Map<String, Located> listenerAccess = new LinkedHashMap<>();

    /** A node and its path. */
    record Located(Node node, String path) {}

    ObservabilitySettings observed = ObservabilitySettings.defaults();
    dev.torii.server.config.ReloadSettings reload = dev.torii.server.config.ReloadSettings.DEFAULTS;

    ConfigDraft(YamlReader yaml, Path baseDirectory, PluginsReader plugins, TlsReader tls, Node root) {
        this.yaml = yaml;
        this.baseDirectory = baseDirectory;
        this.plugins = plugins;
        this.tls = tls;
        this.root = root;
        this.rateLimits = new RateLimitsReader(yaml);
        this.observability = new ObservabilityReader(yaml, baseDirectory);
    }

    /** The listener at {@code host} and {@code port}, if one claims them. */
    Claim claimOf(String host, int port) {
        return port == 0 ? null : addresses.get(host + ":" + port);
    }

    /** {@code path} relative to the configuration file's directory, unless absolute. */
    Path resolve(String path) {
        Path p = Path.of(path);
        return (baseDirectory == null || p.isAbsolute() ? p : baseDirectory.resolve(p)).normalize();
    }
}
