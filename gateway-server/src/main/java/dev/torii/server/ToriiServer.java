package dev.torii.server;

import dev.torii.ErrorResponder;
import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.access.AccessControl;
import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsServer;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.maintenance.MaintenanceSource;
import dev.torii.metrics.GuardMetrics;
import dev.torii.ratelimit.RateLimits;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.script.ReloadResult;
import dev.torii.script.ScriptRuntime;
import dev.torii.server.admin.AdminResponse;
import dev.torii.server.admin.AdminRoutes;
import dev.torii.server.admin.AdminServer;
import dev.torii.server.admin.Json;
import dev.torii.server.admin.MaintenanceAdmin;
import dev.torii.server.config.AdminSettings;
import dev.torii.server.config.ConfigError;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.DnsListenerSettings;
import dev.torii.server.config.PluginSettings;
import dev.torii.server.config.PluginUse;
import dev.torii.server.config.RateLimitSettings;
import dev.torii.server.config.ServerConfig;
import dev.torii.server.demo.EchoService;
import dev.torii.server.internal.ConfigReader;
import dev.torii.server.internal.Observability;
import dev.torii.server.internal.ReloadStats;
import dev.torii.server.internal.Units;
import dev.torii.tcp.TcpListener;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
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
 * <p>Thread-safe; {@link #close()} may be called from any thread, more than once.
 */
public final class ToriiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ToriiServer.class);
    private static final Duration WATCH_INTERVAL = Duration.ofSeconds(1);

    private final ServerConfig config;
    /** The configuration last applied (the start one, then each applied reload's); on the reloading thread. */
    private ServerConfig applied;

    private final Gateway gateway;
    private final EchoService demoEcho;
    private final ScriptRuntime scripts;
    private final AtomicBoolean closed = new AtomicBoolean();

    private final DnsCache dns;
    /** The DNS servers, in configuration order; a reload replaces the list (on the reloading thread). */
    private volatile List<DnsServer> dnsServers;

    private final MaintenanceMode maintenance;
    private volatile AdminServer admin;
    /** The running rate limits: set in {@link #start}, swapped by {@link #reload()}. */
    private volatile RateLimits rateLimits = RateLimits.empty();

    private volatile AccessControl access;
    /** The gateway's connection guard of the access lists; {@link #reload()} swaps the lists behind it. */
    private dev.torii.server.internal.AccessGuard accessGuard;
    /** The access lists' meters: they read the lists {@link #reload()} installs (reloadstate). */
    private dev.torii.access.AccessMetrics accessMetrics;
    /** The engine's policy source for {@code ex.limit}; a reload points it at the new policies. */
    private CheckedScripts checked;

    private Observability observability;
    private volatile boolean ready;

    /** The file {@link #reload()} reads again; null when started from a {@link ServerConfig} alone. */
    private Path configFile;
    /** The text the process started with: what the sections a reload does not apply still run as. */
    private String startText = "";

    private ReloadStats reloads;
    /** Reloads on changes of the configuration file ({@code reload.watch}); null when off. */
    private dev.torii.server.internal.ConfigWatcher watcher;

    private ToriiServer(
            ServerConfig config,
            Gateway gateway,
            EchoService demoEcho,
            ScriptRuntime scripts,
            DnsCache dns,
            List<DnsServer> dnsServers,
            MaintenanceMode maintenance) {
        this.config = config;
        this.applied = config;
        this.gateway = gateway;
        this.demoEcho = demoEcho;
        this.scripts = scripts;
        this.dns = dns;
        this.dnsServers = List.copyOf(dnsServers);
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
                scripts = checked.serve(maintenance, rateLimits, dns, plugins.watch() ? WATCH_INTERVAL : null);
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
            globalHooks(config, rateLimits, access, scripts).forEach(builder::hook);
            if (plugins.inUse()) {
                builder.routingTable(withPlugins(limitedTable, plugins.routes(), scripts));
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
            server = new ToriiServer(config, gateway, echo, scripts, dns, dnsServers, maintenance);
            server.reloads = new ReloadStats(observability.metrics().registry());
            server.configFile = configFile;
            if (configFile != null) {
                try {
                    server.startText = Files.readString(configFile, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    log.warn("cannot read {} again ({}); reloads will name every section as changed", configFile, e);
                }
            }
            server.rateLimits = rateLimits;
            server.access = access;
            server.accessGuard = guard;
            server.accessMetrics = new dev.torii.access.AccessMetrics(access);
            server.checked = checked;
            server.observability = observability;
            observability.started(
                    gateway,
                    dnsServers,
                    dns,
                    scripts,
                    maintenance,
                    List.of(rateLimits.metrics(), new GuardMetrics(maintenance, null), server.accessMetrics));
            if (config.admin().isPresent()) {
                AdminSettings a = config.admin().get();
                server.admin = AdminServer.start(
                        a.host(),
                        a.port(),
                        server.adminRoutes(),
                        config.observability().effectiveAdminToken().orElse(null));
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
                .get("/reload", r -> AdminResponse.json(200, Json.write(reloads.asMap())))
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
        m.put("reloads", reloads.asMap());
        return m;
    }

    /**
     * Reads the configuration file again, validates all of it (plugins are checked by the serving JavaScript engine)
     * and, when it is valid, applies the http, https, tcp and dns listeners, then swaps the gateway's routing table (routes and
     * upstreams, with their rate-limit and plugin hooks) and its global hooks (access lists, rate limits, global
     * plugins) atomically: exchanges already started finish with the old ones. Rate-limit policies that did not
     * change keep their buckets. Every other section ({@link ReloadStats#APPLIED_SECTIONS} lists the applied ones)
     * keeps running as started; those that changed in the file are named in the result and logged at WARN. A file with problems is refused: each {@code FILE:LINE:COLUMN} error is
     * logged at ERROR and returned, and the running configuration stays.
     *
     * <p>Thread-safe; reloads are serialized. Blocks while the file is read and validated (plugins included), so it
     * must not be called on an event loop: SIGHUP runs it on the JVM's signal thread, {@code POST /reload} on the
     * admin API's own thread.
     */
    public synchronized ConfigReloadResult reload() {
        List<String> errors = new ArrayList<>();
        List<String> notApplied = List.of();
        Path file = configFile;
        if (closed.get()) {
            errors.add("reload: the server is shutting down");
        } else if (file == null) {
            errors.add("reload: no configuration file (this server was started from a ServerConfig alone)");
        } else {
            String source = file.toString();
            try {
                String text = Files.readString(file, StandardCharsets.UTF_8);
                // The serving engine checks the plugins (no second engine starts); a refused reload leaves its
                // hooks as they are.
                ServerConfig next =
                        ConfigReader.read(source, text, file.getParent(), scripts == null ? null : () -> scripts);
                if (scripts == null
                        && (next.plugins().inUse()
                                || next.tcpListeners().stream()
                                        .anyMatch(t -> !t.plugins().isEmpty()))) {
                    throw new IllegalStateException(
                            "plugins are attached but none ran at start-up: plugins need a restart");
                }
                // Build everything new before anything changes: a failure below refuses the whole reload.
                var limitsKept = new ArrayList<String>();
                // A changed redis section connects (and checks) a new Redis here (reloadstate).
                var redisSwap = dev.torii.server.internal.RedisSwap.prepare(rateLimits, applied, next);
                RateLimits nextLimits = redisSwap.limits();
                AccessControl nextAccess = null;
                // Carries the new maintenance settings (flag file and Redis too) to the running switch; never started.
                MaintenanceMode freshMaintenance = next.guards().newMaintenanceMode(next.maintenance());
                AdminServer nextAdmin = null;
                DnsPlan dnsPlan = null;
                boolean adminChanged = !next.admin().equals(applied.admin())
                        || !next.observability()
                                .effectiveAdminToken()
                                .equals(applied.observability().effectiveAdminToken());
                try {
                    if (adminChanged && next.admin().isPresent()) {
                        // Bound before anything is swapped: an address in use refuses the whole reload.
                        AdminSettings a = next.admin().get();
                        nextAdmin = AdminServer.start(
                                a.host(),
                                a.port(),
                                adminRoutes(),
                                next.observability().effectiveAdminToken().orElse(null));
                    }
                    // --- dns listeners: new addresses bind before anything is swapped, as http and tcp ones do.
                    dnsPlan = planDns(next);
                    nextAccess =
                            next.guards().newAccessControl(next.forwarding()).orElse(null);
                    if (nextAccess != null) {
                        nextAccess.start(); // reads the list files: a broken one refuses the reload
                    }
                    // Observability's hooks first, as at start-up; an unchanged access log or tracing is kept.
                    List<Hook> hooks = new ArrayList<>(observability.prepare(next.observability()));
                    hooks.addAll(globalHooks(next, nextLimits, nextAccess, scripts));
                    RoutingTable table = next.rateLimits()
                            .withRouteHooks(next.routingTable(), nextLimits, ErrorResponder.plainText());
                    if (next.plugins().routes().values().stream().anyMatch(l -> !l.isEmpty())) {
                        table = withPlugins(table, next.plugins().routes(), scripts);
                    }
                    // --- listeners (http, https, tcp): the new TCP listeners' upstreams must be in the new table.
                    List<TcpListener> nextTcp = next.tcpListeners(use -> scripts.hook(use.plugin(), use.config()));
                    for (TcpListener t : nextTcp) {
                        if (table.upstream(t.upstream()) == null) {
                            throw new IllegalStateException("upstream '" + t.upstream()
                                    + "' is removed but tcp listener '" + t.name() + "' forwards to it");
                        }
                    }
                    RoutingTable nextTable = table;
                    AccessControl nextLists = nextAccess;
                    // New addresses bind first (a port in use refuses the whole reload, nothing changed); the swaps
                    // run before they accept, so a new TCP listener finds its upstream in the table.
                    if (gateway == null) {
                        // Only dns listeners ran at start-up (a node-local DNS cache): no proxy engine runs, and one
                        // starts only with the process. Everything else of the file still applies.
                        if (!next.listeners().isEmpty() || !nextTcp.isEmpty()) {
                            throw new IllegalStateException("http or tcp listeners are added to a configuration that"
                                    + " ran only dns listeners: the proxy engine starts with the process (a restart)");
                        }
                        accessGuard.use(nextLists);
                        applyMaintenance(next, freshMaintenance);
                    } else {
                        gateway.listeners(next.listeners(), nextTcp, () -> {
                            gateway.routingTable(nextTable);
                            gateway.hooks(hooks);
                            accessGuard.use(nextLists);
                            limitsKept.addAll(gateway.limits(next.limits()));
                            gateway.http2Limits(next.http2Limits()); // for the HTTP/2 connections made from now on
                            gateway.forwarding(next.forwarding());
                            applyMaintenance(next, freshMaintenance);
                        });
                    }
                } catch (RuntimeException e) {
                    if (nextAdmin != null) {
                        nextAdmin.close();
                    }
                    if (dnsPlan != null) {
                        dnsPlan.abort();
                    }
                    freshMaintenance.close();
                    redisSwap.abort();
                    observability.abort();
                    if (nextAccess != null) {
                        nextAccess.close();
                    }
                    throw e;
                }
                observability.commit(); // closes a replaced access log (its queued lines written) or tracing SDK
                var unappliedDns = new ArrayList<String>();
                applyDns(next, dnsPlan, unappliedDns);
                if (adminChanged) {
                    AdminServer oldAdmin = admin;
                    admin = nextAdmin;
                    if (oldAdmin != null) {
                        // Not now: a POST /reload runs on one of the old server's request threads, which must
                        // first write this reload's answer. A second later, off every event loop, it closes.
                        CompletableFuture.runAsync(
                                oldAdmin::close,
                                CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS, r -> Thread.ofVirtual()
                                        .start(r)));
                    }
                }
                AccessControl oldAccess = access;
                access = nextAccess;
                if (oldAccess != null) {
                    oldAccess.close(); // its list watcher; exchanges in flight may still ask it, which stays valid
                }
                // The old limits share the Redis store with the new ones: dropped, not closed (a replaced store
                // closes in redisSwap.commit()).
                RateLimits oldLimits = rateLimits;
                rateLimits = nextLimits;
                checked.rateLimits(nextLimits);
                // Meters follow (reloadstate): removed and changed policies' series go, new ones come, kept ones stay.
                nextLimits.metrics().bindTo(observability.metrics().registry(), oldLimits.metrics());
                accessMetrics.use(nextAccess);
                redisSwap.commit();
                var unapplied = new ArrayList<String>();
                for (String section : ReloadStats.unappliedChanges(startText, text)) {
                    // The event loops are made once, with their count (as Envoy's --concurrency): the WARN says why.
                    unapplied.add(
                            section.equals("ioThreads")
                                    ? "ioThreads (restart-only: the event-loop count is fixed at start-up)"
                                    : section);
                }
                limitsKept.forEach(k -> unapplied.add("limits." + k));
                // maintenance.file and maintenance.redis move in applyMaintenance (reloadstate).
                // DNS (issue 16): the running cache takes the new settings, keeping its answers where their servers
                // stay the same. Removing the dns: section needs a restart (listeners and upstreams hold the cache).
                if (dns != null && next.dns().isPresent()) {
                    if (!next.dns().equals(applied.dns())) {
                        dns.reconfigure(next.dns().get().cacheBuilder());
                    }
                    unapplied.remove("dns");
                }
                applied = next;
                // --- plugins.watch: the serving runtime's file watcher starts or stops.
                if (scripts != null && next.plugins().watch() != scripts.watching()) {
                    if (next.plugins().watch()) {
                        scripts.watch(WATCH_INTERVAL);
                    } else {
                        scripts.unwatch();
                    }
                    log.info("plugin file watcher {}", next.plugins().watch() ? "started" : "stopped");
                }
                unapplied.addAll(unappliedDns);
                notApplied = List.copyOf(unapplied);
            } catch (ConfigException e) {
                e.errors().stream().map(ConfigError::toString).forEach(errors::add);
            } catch (IOException e) {
                errors.add(new ConfigError(source, 0, 0, "cannot read: " + e).toString());
            } catch (RuntimeException e) {
                // A table the engine refuses (e.g. a tcp listener's upstream removed) or an unknown rate-limit policy.
                errors.add(new ConfigError(source, 0, 0, "cannot apply: " + e.getMessage()).toString());
            }
        }
        RoutingTable running = gateway == null ? config.routingTable() : gateway.routingTable();
        ConfigReloadResult result = new ConfigReloadResult(
                errors.isEmpty(),
                Instant.now(),
                running.routes().size(),
                running.upstreams().size(),
                notApplied,
                errors);
        reloads.record(result.applied(), result.time());
        if (result.applied()) {
            log.info(
                    "configuration reloaded from {}: {} route(s), {} upstream(s) now run (a reload applies {}; "
                            + "every other section needs a restart)",
                    file,
                    result.routes(),
                    result.upstreams(),
                    ReloadStats.APPLIED_SECTIONS);
            if (!notApplied.isEmpty()) {
                log.warn(
                        "{}: section(s) {} changed but are not applied by a reload; they run as started until a restart",
                        file,
                        notApplied);
            }
        } else {
            errors.forEach(e -> log.error("{}", e));
            log.error("configuration reload refused ({} problem(s)); the running configuration stays", errors.size());
        }
        return result;
    }

    /**
     * The dns listeners of a reload, prepared before anything is swapped: the servers of new listeners (and of listeners
     * whose address changed) are started, so an address that cannot be bound refuses the whole reload.
     *
     * @param fresh the servers started for this reload, by listener name
     * @param restart the listeners whose address stays but whose settings changed: their server restarts after the swap
     */
    private record DnsPlan(Map<String, DnsServer> fresh, List<DnsListenerSettings> restart) {
        void abort() {
            fresh.values().forEach(DnsServer::close);
        }
    }

    private DnsPlan planDns(ServerConfig next) {
        if (dns == null && !next.dnsListeners().isEmpty()) {
            // The cache is made at start-up (shared by the engine, the scripts and the dns servers).
            throw new IllegalStateException(
                    "dns listeners are added but no dns cache runs (none was configured at start-up): a restart");
        }
        Map<String, DnsListenerSettings> running = new LinkedHashMap<>();
        applied.dnsListeners().forEach(l -> running.put(l.name(), l));
        var plan = new DnsPlan(new LinkedHashMap<>(), new ArrayList<>());
        try {
            for (DnsListenerSettings l : next.dnsListeners()) {
                DnsListenerSettings before = running.get(l.name());
                if (before == null || !before.address().equals(l.address())) {
                    plan.fresh()
                            .put(
                                    l.name(),
                                    l.serverBuilder(dns, config.ioThreads())
                                            .build()
                                            .start());
                } else if (!before.equals(l)) {
                    plan.restart().add(l);
                }
            }
        } catch (RuntimeException e) {
            plan.abort();
            throw e;
        }
        return plan;
    }

    /**
     * Commits {@code plan}: the servers of removed listeners (and the old sockets of moved ones) close, changed ones
     * restart at their address with the new settings (a UDP query sent meanwhile goes unanswered, and the client
     * retries), and the list of servers follows the configuration's order. A restart that cannot bind keeps the old
     * settings running and is named in {@code unapplied}. Their meters follow: a restarted server counts from zero.
     */
    private void applyDns(ServerConfig next, DnsPlan plan, List<String> unapplied) {
        Map<String, DnsServer> running = new LinkedHashMap<>();
        dnsServers.forEach(d -> running.put(d.name(), d));
        Map<String, DnsListenerSettings> before = new LinkedHashMap<>();
        applied.dnsListeners().forEach(l -> before.put(l.name(), l));
        var changed = new ArrayList<String>();
        for (DnsListenerSettings l : plan.restart()) {
            DnsServer old = running.get(l.name());
            if (old != null) {
                old.close();
            }
            try {
                running.put(
                        l.name(),
                        l.serverBuilder(dns, config.ioThreads()).build().start());
                changed.add(l.name());
                log.info("dns listener '{}' on {} restarted with its new settings", l.name(), l.address());
            } catch (RuntimeException e) {
                log.error(
                        "dns listener '{}': cannot restart on {} ({}); the old settings run", l.name(), l.address(), e);
                running.put(
                        l.name(),
                        before.get(l.name())
                                .serverBuilder(dns, config.ioThreads())
                                .build()
                                .start());
                unapplied.add("listeners (dns '" + l.name() + "': " + e.getMessage() + ")");
            }
        }
        var nextNames = new java.util.HashSet<String>();
        next.dnsListeners().forEach(l -> nextNames.add(l.name()));
        for (DnsServer d : running.values()) {
            if (!nextNames.contains(d.name()) || plan.fresh().containsKey(d.name())) {
                d.close();
                changed.add(d.name());
                log.info("dns listener '{}' on {} removed", d.name(), d.address());
            }
        }
        List<DnsServer> now = new ArrayList<>();
        for (DnsListenerSettings l : next.dnsListeners()) {
            DnsServer fresh = plan.fresh().get(l.name());
            now.add(fresh != null ? fresh : running.get(l.name()));
        }
        dnsServers = List.copyOf(now);
        // Meters: those of closed servers go; new and restarted servers get theirs (Micrometer would otherwise keep the
        // meters of a name, reading the closed server).
        changed.addAll(plan.fresh().keySet());
        if (!changed.isEmpty()) {
            var registry = observability.metrics().registry();
            registry.getMeters().stream()
                    .filter(m -> m.getId().getName().startsWith("torii.dns.server.")
                            && changed.contains(m.getId().getTag("listener")))
                    .toList()
                    .forEach(registry::remove);
            new dev.torii.metrics.DnsServerMetrics(
                            now.stream().filter(d -> changed.contains(d.name())).toList())
                    .bindTo(registry);
        }
    }

    /**
     * Gives the running maintenance switch the settings of {@code next}: the request policy always, the windows and
     * the switch (with its routes) only when the file changed them since the last applied configuration, so a reload
     * does not undo what the admin API switched. The switch built to carry them is never started.
     */
    private void applyMaintenance(ServerConfig next, MaintenanceMode fresh) {
        try {
            boolean switchChanged =
                    next.maintenance().enabled() != applied.maintenance().enabled()
                            || !next.guards()
                                    .maintenanceRoutes()
                                    .equals(applied.guards().maintenanceRoutes());
            boolean windowsChanged =
                    !next.guards().windows().equals(applied.guards().windows());
            maintenance.reconfigure(fresh, switchChanged, windowsChanged);
        } finally {
            fresh.close();
        }
    }

    /** Reload counts and the last result ({@code ok}, {@code failed}, {@code lastResult}, {@code lastTime}). */
    public Map<String, Object> reloadStats() {
        return reloads.asMap();
    }

    private AdminResponse maintenanceState() {
        return MaintenanceAdmin.state(maintenance);
    }

    /**
     * The global hooks after the observability ones (which {@link Observability#configure} adds first, so tracing sees
     * every answer): the access lists first (after maintenance), so a refused client reaches no plugin; then the rate
     * limits, before plugins, since refusing a flood should cost as little as possible; then the global plugins.
     *
     * @throws IllegalArgumentException when a policy named by {@code rateLimit} or a listener is unknown
     */
    private static List<Hook> globalHooks(
            ServerConfig config, RateLimits limits, AccessControl access, ScriptRuntime scripts) {
        List<Hook> hooks = new ArrayList<>();
        if (access != null) {
            hooks.add(access.hook(ErrorResponder.plainText()));
        }
        RateLimitSettings limitSettings = config.rateLimits();
        hooks.addAll(limitSettings.globalHooks(limits, ErrorResponder.plainText()));
        hooks.addAll(limitSettings.listenerHooks(limits, ErrorResponder.plainText()));
        for (PluginUse use : config.plugins().global()) {
            hooks.add(scripts.hook(use.plugin(), use.config()));
        }
        return hooks;
    }

    /** {@code table} with the hooks of each route's plugins added after the route's own hooks. */
    private static RoutingTable withPlugins(
            RoutingTable table, Map<String, List<PluginUse>> routePlugins, ScriptRuntime scripts) {
        RoutingTable.Builder b = RoutingTable.builder();
        table.upstreams().values().forEach(b::upstream);
        for (Route r : table.routes()) {
            List<PluginUse> uses = routePlugins.getOrDefault(r.name(), List.of());
            if (uses.isEmpty()) {
                b.route(r);
                continue;
            }
            List<Hook> hooks = new ArrayList<>(r.hooks());
            for (PluginUse use : uses) {
                hooks.add(scripts.hook(use.plugin(), use.config()));
            }
            b.route(r.withHooks(hooks));
        }
        return b.build();
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
        return rateLimits;
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
        return dnsServers;
    }

    /** The DNS cache of the {@code dns:} section, when configured. */
    public Optional<DnsCache> dnsCache() {
        return Optional.ofNullable(dns);
    }

    /** The admin API server, when the configuration has {@code admin:}. */
    public Optional<AdminServer> admin() {
        return Optional.ofNullable(admin);
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
            for (DnsServer d : dnsServers) {
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
                rateLimits.close(); // after the gateway, for the same reason
                if (dns != null) {
                    dns.close();
                }
                if (access != null) {
                    access.close();
                }
                if (observability != null) {
                    observability.close(); // after the gateway: its last exchanges are logged
                }
                if (admin != null) {
                    admin.close(); // last: /healthz answers until the end
                }
            }
        }
        log.info("stopped");
    }
}
