package dev.torii.server.internal;

import dev.torii.Listener;
import dev.torii.route.RoutingTable;
import dev.torii.script.ScriptRuntime;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.PluginSettings;
import dev.torii.server.config.RateLimitSettings;
import dev.torii.server.config.ServerConfig;
import dev.torii.server.config.TcpListenerSettings;
import dev.torii.server.internal.YamlReader.Fields;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import org.snakeyaml.engine.v2.nodes.Node;

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
 * <p>Each top-level section has its own {@link SectionReader}, listed in {@link #SECTIONS}; what one section needs
 * from another (the listeners' addresses, the upstreams' names) goes through the shared {@link ConfigDraft}, and the
 * checks across sections that need every section read (route and TCP listener upstreams, plugins) are made here.
 *
 * <p>Not thread-safe; one instance reads one file.
 */
public final class ConfigReader {
    /**
     * Every top-level section, in reading order (a section reads after those it checks against: admin and demo after
     * listeners). Their keys, in this order, are the top-level keys; a new section is one line here.
     */
    static final List<SectionReader.Entry> SECTIONS = List.of(
            // First: routes refer to the named policies.
            new SectionReader.Entry(List.of("rateLimits", "rateLimit", "redis"), d -> top -> {
                d.rateLimits.readPolicies(top.value("rateLimits"));
                d.rateLimits.readRedis(top.value("redis"));
                d.rateLimits.readGlobal(top.value("rateLimit"));
            }),
            new SectionReader.Entry(ListenersReader.KEYS, ListenersReader::new),
            new SectionReader.Entry(RoutesReader.KEYS, RoutesReader::new),
            new SectionReader.Entry(UpstreamsReader.KEYS, UpstreamsReader::new),
            new SectionReader.Entry(LimitsReader.KEYS, LimitsReader::new),
            new SectionReader.Entry(DemoReader.KEYS, DemoReader::new),
            new SectionReader.Entry(List.of("plugins"), d -> top -> d.plugins.readSection(top.value("plugins"))),
            new SectionReader.Entry(DnsReader.KEYS, DnsReader::new),
            new SectionReader.Entry(AdminReader.KEYS, AdminReader::new),
            new SectionReader.Entry(MaintenanceReader.KEYS, MaintenanceReader::new),
            new SectionReader.Entry(ReloadReader.KEYS, ReloadReader::new),
            new SectionReader.Entry(
                    List.of("accessLog", "tracing"),
                    d -> top -> d.observed = d.observability.read(top.value("accessLog"), top.value("tracing"))),
            // Last: maintenance windows and access lists refer to listener and route names.
            new SectionReader.Entry(List.of("access"), d -> top -> {
                var listenerNames = new java.util.TreeSet<String>();
                d.listeners.forEach(l -> listenerNames.add(l.name()));
                d.tcpRefs.forEach(t -> listenerNames.add(t.listener().name()));
                var routeNames = new java.util.TreeSet<String>();
                d.routes.forEach(r -> routeNames.add(r.name()));
                d.guards = new GuardsReader(d.yaml, d.baseDirectory)
                        .read(
                                top.value("maintenance"),
                                d.rateLimits.redisAddress(),
                                top.value("access"),
                                listenerNames,
                                routeNames,
                                d.listenerAccess);
            }));

    private static final List<String> TOP_KEYS =
            SECTIONS.stream().flatMap(s -> s.keys().stream()).toList();
    private static final List<String> TOP_LATER = List.of();

    private final YamlReader yaml;
    private final PluginsReader plugins;
    private final TlsReader tls;
    private final Path baseDirectory;

    private ConfigReader(String source, Path baseDirectory, Supplier<ScriptRuntime> scripts) {
        this.yaml = new YamlReader(source);
        this.baseDirectory = baseDirectory;
        this.plugins = new PluginsReader(yaml, baseDirectory, scripts);
        this.tls = new TlsReader(yaml, baseDirectory);
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
        return read(source, text, baseDirectory, null);
    }

    /**
     * {@link #read(String, String, Path)} loading the plugins with the engine {@code scripts} supplies (asked for on
     * the first plugin, never closed here), so that the engine that checked them can serve them.
     *
     * @param scripts null: a quiet engine of the reader's own, closed before this returns
     */
    public static ServerConfig read(String source, String text, Path baseDirectory, Supplier<ScriptRuntime> scripts)
            throws ConfigException {
        var reader = new ConfigReader(Objects.requireNonNull(source, "source"), baseDirectory, scripts);
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
        ConfigDraft d = new ConfigDraft(yaml, baseDirectory, plugins, tls, root);
        for (SectionReader.Entry section : SECTIONS) {
            section.reader().apply(d).read(top);
        }
        ListenersReader.checkTcpUpstreams(d);

        RoutingTable table = new RoutesReader(d).buildRoutingTable(top);
        // Plugins are loaded last (each loading evaluates a module) but even when the file has other problems, so that
        // one run of `torii check` lists everything.
        Map<String, List<PluginsReader.Ref>> routePlugins = new LinkedHashMap<>();
        d.routes.forEach(r -> routePlugins.put(r.name(), r.plugins()));
        PluginSettings pluginSettings = plugins.resolve(routePlugins);
        List<TcpListenerSettings> tcpListeners = new ArrayList<>();
        for (ConfigDraft.TcpRef t : d.tcpRefs) {
            tcpListeners.add(new TcpListenerSettings(t.listener(), plugins.uses(t.plugins())));
        }
        RateLimitSettings rateLimitSettings = d.rateLimits.resolve();
        List<Listener> listeners = d.listeners;
        if (listeners.isEmpty() && tcpListeners.isEmpty() && d.dnsListeners.isEmpty() && yaml.errorCount() == 0) {
            yaml.error(root, "listeners: none could be read (expected: at least one listener)");
        }
        if (yaml.errorCount() > 0) {
            throw yaml.failure();
        }
        return new ServerConfig(
                listeners,
                table,
                d.limits,
                d.http2Limits,
                d.forwarding,
                d.ioThreads,
                d.demoEcho,
                pluginSettings,
                d.dns,
                d.dnsListeners,
                d.admin,
                tcpListeners,
                d.maintenance,
                rateLimitSettings,
                d.guards,
                d.observed,
                d.reload);
    }
}
