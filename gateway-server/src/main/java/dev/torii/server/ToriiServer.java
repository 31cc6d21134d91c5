package dev.torii.server;

import dev.torii.ErrorResponder;
import dev.torii.Gateway;
import dev.torii.access.AccessControl;
import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsServer;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.maintenance.MaintenanceSource;
import dev.torii.metrics.GuardMetrics;
import dev.torii.ratelimit.RateLimits;
import dev.torii.route.RoutingTable;
import dev.torii.script.ReloadResult;
import dev.torii.script.ScriptRuntime;
import dev.torii.server.admin.AdminResponse;
import dev.torii.server.admin.AdminRoutes;
import dev.torii.server.admin.AdminServer;
import dev.torii.server.admin.Json;
import dev.torii.server.admin.MaintenanceAdmin;
import dev.torii.server.config.AdminSettings;
import dev.torii.server.config.DnsListenerSettings;
import dev.torii.server.config.PluginSettings;
import dev.torii.server.config.RateLimitSettings;
import dev.torii.server.config.ServerConfig;
import dev.torii.server.demo.EchoService;
import dev.torii.server.internal.Observability;
import dev.torii.server.internal.ReloadPipeline;
import dev.torii.server.internal.ReloadStats;
import dev.torii.server.internal.ServerHooks;
import dev.torii.server.internal.Units;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A standalone gateway as {@code torii run} runs it: the {@link Gateway} a {@link ServerConfig} describes, the
 * JavaScript runtime of its plugins (when it attaches any), plus the demo echo service when the configuration asks
 * for one.
 *
 * <p>Plugins: one {@link ScriptRuntime} serves every plugin of the configuration; global plugins become gateway hooks
 * (before any other), route plugins hooks of their route. With {@code plugins.watch} (the default) the runtime
 * reloads a plugin in the background when its files change; {@link #reloadPlugins()} does it on demand.
 *
 * <p>DNS: the {@code dns:} section's cache resolves upstream host names, and every listener with {@code protocol: dns}
 * serves it to other processes ({@link DnsServer}, one per listener, sharing the cache). The admin API ({@code admin:})
 * answers {@code /healthz}, {@code /readyz}, {@code /metrics}, the status page and the JSON views of
 * {@link Observability} on its own thread; the access log and tracing are {@link Observability}'s too.
 *
 * <p>This class starts, wires and closes those parts; a configuration reload ({@link #reload()}: SIGHUP,
 * {@code POST /reload}, the file watcher) is {@link ReloadPipeline}'s, which also holds the parts a reload swaps (rate
 * limits, access lists, dns servers, the admin server).
 *
 * <p>Thread-safe; {@link #close()} may be called from any thread, more than once.
 */
public final class ToriiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ToriiServer.class);

    private final ServerConfig config;

    private final Gateway gateway;
    private final EchoService demoEcho;
    private final ScriptRuntime scripts;
    private final AtomicBoolean closed = new AtomicBoolean();

    private final DnsCache dns;

    private final MaintenanceMode maintenance;
    /** The reload, with the parts it swaps (rate limits, access lists, dns servers, admin server). */
    private ReloadPipeline pipeline;

    private Observability observability;
    private volatile boolean ready;

    /** Reloads on changes of the configuration file ({@code reload.watch}); null when off. */
    private dev.torii.server.internal.ConfigWatcher watcher;

    private ToriiServer(
            ServerConfig config,
            Gateway gateway,
            EchoService demoEcho,
            ScriptRuntime scripts,
            DnsCache dns,
            MaintenanceMode maintenance) {
        this.config = config;
        this.gateway = gateway;
        this.demoEcho = demoEcho;
        this.scripts = scripts;
        this.dns = dns;
        this.maintenance = maintenance;
    }

    /**
     * Starts the demo echo service (if configured) and then the gateway, so the gateway never accepts a request
     * before its demo upstream can answer. Returns once every listener is bound.
     *
     * @throws java.io.UncheckedIOException when an address cannot be bound; whatever was started is closed again
     */
    public static ToriiServer start(ServerConfig config) {
        return start(config, null);
    }

    /**
     * {@link #start(ServerConfig)}, remembering {@code configFile} (the file {@code config} was read from) so that
     * {@link #reload()}, SIGHUP and the admin API's {@code POST /reload} can read it again.
     *
     * @param configFile the configuration file, or null when there is none (reloads are then refused)
     */
    public static ToriiServer start(ServerConfig config, Path configFile) {
        return start(config, configFile, new CheckedScripts());
    }

    /**
     * {@link #start(ServerConfig, Path)} serving the plugins with the JavaScript runtime that checked them while
     * {@code config} was read ({@code ConfigLoader.load(file, checked)}), so that one engine starts, not two. The server
     * takes the runtime over (and closes it); when {@code config} attaches no plugin, a runtime made anyway is closed.
     */
    public static ToriiServer start(ServerConfig config, Path configFile, CheckedScripts checked) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(checked, "checked");
        PluginSettings plugins = config.plugins();
        ScriptRuntime scripts = null;
        EchoService echo = null;
        DnsCache dns = null;
        Gateway gateway = null;
        List<DnsServer> dnsServers = new ArrayList<>();
        ToriiServer server = null;
        RateLimits rateLimits = null;
        MaintenanceMode maintenance = config.guards().newMaintenanceMode(config.maintenance());
        AccessControl access = null;
        Observability observability = null;
        boolean tcpPlugins =
                config.tcpListeners().stream().anyMatch(t -> !t.plugins().isEmpty());
        try {
            rateLimits = config.rateLimits().newRateLimits();
            if (plugins.inUse() || tcpPlugins) {
                if (config.dns().isPresent()) { // torii.dns.resolve shares the gateway's DNS cache
                    dns = config.dns().get().newCache();
                }
                // The engine that checked the plugins (or a new one, which logs whether the JIT is on).
                scripts = checked.serve(
                        maintenance, rateLimits, dns, plugins.watch() ? ReloadPipeline.PLUGIN_WATCH_INTERVAL : null);
            } else {
                checked.close();
            }
            ScriptRuntime runtime = scripts;
            observability = Observability.create(config);
            Gateway.Builder builder =
                    observability.configure(config.gatewayBuilder(use -> runtime.hook(use.plugin(), use.config()))
                            .maintenance(maintenance));
            access = config.guards().newAccessControl(config.forwarding()).orElse(null);
            if (access != null) {
                access.start();
            }
            // Listener lists also close a refused address at accept, before TLS or a TCP backend. Always installed,
            // so that a reload may add access lists.
            var guard = new dev.torii.server.internal.AccessGuard(access);
            builder.connectionGuard(guard);
            RateLimitSettings limitSettings = config.rateLimits();
            RoutingTable limitedTable =
                    limitSettings.withRouteHooks(config.routingTable(), rateLimits, ErrorResponder.plainText());
            builder.routingTable(limitedTable);
            if (limitSettings.inUse()) {
                log.info(
                        "rate limits: {} polic{} ({} on every request, {} route(s) with limits)",
                        limitSettings.policies().size(),
                        limitSettings.policies().size() == 1 ? "y" : "ies",
                        limitSettings.global().size(),
                        limitSettings.routes().size());
            }
            if (config.dns().isPresent()) {
                if (dns == null) {
                    dns = config.dns().get().newCache();
                }
                builder.dnsCache(dns);
                log.info(
                        "upstream host names resolve through the DNS cache (servers {})",
                        config.dns().get().upstreams());
            }
            ServerHooks.global(config, rateLimits, access, scripts).forEach(builder::hook);
            if (plugins.inUse()) {
                builder.routingTable(ServerHooks.withPlugins(limitedTable, plugins.routes(), scripts));
                log.info(
                        "plugins: {} global, {} on routes, from directory {}{}",
                        plugins.global().size(),
                        plugins.routes().values().stream().mapToInt(List::size).sum(),
                        plugins.directory(),
                        plugins.watch() ? ", reloaded when their files change" : "");
            }
            echo = config.demoEcho()
                    .map(e -> EchoService.start(e.host(), e.port()))
                    .orElse(null);
            // The engine logs each bound listener itself. A configuration with only dns listeners runs no gateway.
            boolean proxies =
                    !config.listeners().isEmpty() || !config.tcpListeners().isEmpty();
            gateway = proxies ? builder.build().start() : null;
            if (gateway != null && maintenance.enabled()) {
                log.warn("maintenance is on: {}", maintenance);
            }
            for (DnsListenerSettings l : config.dnsListeners()) {
                // ConfigReader refuses dns listeners without a dns: section, so the cache exists.
                dnsServers.add(l.serverBuilder(dns, config.ioThreads()).build().start());
            }
            server = new ToriiServer(config, gateway, echo, scripts, dns, maintenance);
            server.pipeline = new ReloadPipeline(
                    config,
                    configFile,
                    gateway,
                    scripts,
                    dns,
                    dnsServers,
                    maintenance,
                    observability,
                    rateLimits,
                    access,
                    guard,
                    server::adminRoutes,
                    checked::rateLimits,
                    server.closed::get);
            server.observability = observability;
            observability.started(
                    gateway,
                    dnsServers,
                    dns,
                    scripts,
                    maintenance,
                    List.of(
                            rateLimits.metrics(),
                            new GuardMetrics(maintenance, null),
                            server.pipeline.accessMetrics()));
            if (config.admin().isPresent()) {
                AdminSettings a = config.admin().get();
                server.pipeline.adminStarted(AdminServer.start(
                        a.host(),
                        a.port(),
                        server.adminRoutes(),
                        config.observability().effectiveAdminToken().orElse(null)));
            }
            if (config.reload().watch() && configFile != null) {
                try {
                    server.watcher = dev.torii.server.internal.ConfigWatcher.start(
                            configFile, config.reload().debounce(), server::reload);
                } catch (IOException e) {
                    log.warn("cannot watch {} ({}); reload with SIGHUP or POST /reload", configFile, e.toString());
                }
            }
            server.ready = true;
            return server;
        } catch (RuntimeException e) {
            for (DnsServer d : dnsServers) {
                d.close();
            }
            if (gateway != null) {
                gateway.close();
            }
            if (echo != null) {
                echo.close();
            }
            if (dns != null) {
                dns.close();
            }
            if (scripts != null) {
                scripts.close();
            }
            checked.close();
            if (access != null) {
                access.close();
            }
            if (rateLimits != null) {
                rateLimits.close();
            }
            if (observability != null) {
                observability.close();
            }
            throw e;
        }
    }

    /**
     * The admin API's endpoints: {@code GET /healthz} (the process answers), {@code GET /readyz} (every listener is
     * bound and the server is not shutting down; 503 otherwise), {@code GET /metrics} (Prometheus text format), and
     * the maintenance switch: {@code GET /maintenance} (its state), {@code PUT /maintenance} (on) and
     * {@code DELETE /maintenance} (off; a flag file that is present keeps maintenance on, and the answer says so).
     */
    private AdminRoutes adminRoutes() {
        return observability
                .adminRoutes(AdminRoutes.builder())
                .get("/healthz", r -> AdminResponse.text(200, "ok\n"))
                .get(
                        "/readyz",
                        r -> ready ? AdminResponse.text(200, "ready\n") : AdminResponse.text(503, "not ready\n"))
                .get(
                        "/reload",
                        r -> AdminResponse.json(200, Json.write(pipeline.stats().asMap())))
                .route("POST", "/reload", r -> {
                    ConfigReloadResult result = reload();
                    return AdminResponse.json(result.applied() ? 200 : 400, Json.write(asMap(result)));
                })
                .get("/maintenance", r -> maintenanceState())
                .route("PUT", "/maintenance", r -> {
                    maintenance.enable(MaintenanceSource.ADMIN);
                    return maintenanceState();
                })
                .route("DELETE", "/maintenance", r -> {
                    maintenance.disable(MaintenanceSource.ADMIN);
                    return maintenanceState();
                })
                .get("/maintenance/windows", r -> MaintenanceAdmin.windows(maintenance))
                .route("POST", "/maintenance/windows", r -> MaintenanceAdmin.addWindow(maintenance, r))
                .route("DELETE", "/maintenance/windows", r -> MaintenanceAdmin.removeWindow(maintenance, r))
                .route("PUT", "/maintenance/routes", r -> MaintenanceAdmin.route(maintenance, r, true))
                .route("DELETE", "/maintenance/routes", r -> MaintenanceAdmin.route(maintenance, r, false))
                .build();
    }

    private Map<String, Object> asMap(ConfigReloadResult result) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("applied", result.applied());
        m.put("time", result.time().toString());
        m.put("routes", result.routes());
        m.put("upstreams", result.upstreams());
        m.put("reloadApplies", ReloadStats.APPLIED_SECTIONS);
        m.put("changedButNeedRestart", result.notApplied());
        m.put("errors", result.errors());
        m.put("reloads", pipeline.stats().asMap());
        return m;
    }

    /**
     * Reads the configuration file again, validates all of it and, when it is valid, applies what a reload applies
     * ({@link ReloadStats#APPLIED_SECTIONS}); see {@link ReloadPipeline} for the steps. A file with problems is refused:
     * each {@code FILE:LINE:COLUMN} error is logged at ERROR and returned, and the running configuration stays.
     *
     * <p>Thread-safe; reloads are serialized. Blocks while the file is read and validated (plugins included), so it
     * must not be called on an event loop: SIGHUP runs it on the JVM's signal thread, {@code POST /reload} on the
     * admin API's own thread.
     */
    public ConfigReloadResult reload() {
        return pipeline.reload();
    }

    /** Reload counts and the last result ({@code ok}, {@code failed}, {@code lastResult}, {@code lastTime}). */
    public Map<String, Object> reloadStats() {
        return pipeline.stats().asMap();
    }

    private AdminResponse maintenanceState() {
        return MaintenanceAdmin.state(maintenance);
    }

    /**
     * Reloads every plugin whose files changed (as the watcher does), on the calling thread.
     *
     * @return what was reloaded and what failed; empty when the configuration attaches no plugin
     */
    public ReloadResult reloadPlugins() {
        return scripts == null ? new ReloadResult(List.of(), List.of()) : scripts.reload();
    }

    /** The running rate-limit policies (empty without any); {@link RateLimits#metrics()} binds their meters. */
    public RateLimits rateLimits() {
        return pipeline.rateLimits();
    }

    /** The JavaScript runtime of the plugins, when the configuration attaches any. */
    public Optional<ScriptRuntime> scripts() {
        return Optional.ofNullable(scripts);
    }

    /**
     * The gateway's maintenance switch (there is always one; the {@code maintenance} section only sets how it starts):
     * {@code enable()}/{@code disable()} turn it on and off at run time, as the admin API's {@code PUT} and
     * {@code DELETE /maintenance} do.
     */
    public MaintenanceMode maintenance() {
        return maintenance;
    }

    /**
     * The running gateway.
     *
     * @throws IllegalStateException when the configuration has no HTTP or TCP listener (only dns ones), so no gateway
     *     runs
     */
    public Gateway gateway() {
        if (gateway == null) {
            throw new IllegalStateException("no gateway: the configuration has no http listener");
        }
        return gateway;
    }

    /** The DNS servers, one per listener with {@code protocol: dns}, in configuration order. */
    public List<DnsServer> dnsServers() {
        return pipeline.dnsServers();
    }

    /** The DNS cache of the {@code dns:} section, when configured. */
    public Optional<DnsCache> dnsCache() {
        return Optional.ofNullable(dns);
    }

    /** The admin API server, when the configuration has {@code admin:}. */
    public Optional<AdminServer> admin() {
        return Optional.ofNullable(pipeline.admin());
    }

    /** Whether every listener is bound and the server is not shutting down (what {@code GET /readyz} says). */
    public boolean ready() {
        return ready;
    }

    /** The demo echo service, when the configuration has {@code demo.echo}. */
    public Optional<EchoService> demoEcho() {
        return Optional.ofNullable(demoEcho);
    }

    /**
     * Closes the gateway gracefully (in-flight exchanges get up to {@code limits.shutdownTimeout}), then the demo
     * echo service, which may be serving those exchanges until then. Blocks until both are closed.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        ready = false; // readiness probes fail from now on, so traffic moves elsewhere first
        if (watcher != null) {
            watcher.close();
        }
        log.info(
                "shutting down (in-flight exchanges get up to {})",
                Units.format(config.limits().shutdownTimeout()));
        try {
            for (DnsServer d : pipeline.dnsServers()) {
                d.close();
            }
            if (gateway != null) {
                gateway.close();
            }
        } finally {
            try {
                if (demoEcho != null) {
                    demoEcho.close();
                }
            } finally {
                if (scripts != null) {
                    scripts.close(); // after the gateway: its last exchanges may still run hooks
                }
                pipeline.rateLimits().close(); // after the gateway, for the same reason
                if (dns != null) {
                    dns.close();
                }
                if (pipeline.access() != null) {
                    pipeline.access().close();
                }
                if (observability != null) {
                    observability.close(); // after the gateway: its last exchanges are logged
                }
                if (pipeline.admin() != null) {
                    pipeline.admin().close(); // last: /healthz answers until the end
                }
            }
        }
        log.info("stopped");
    }
}
