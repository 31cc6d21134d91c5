package dev.torii.server.internal;

import dev.torii.ErrorResponder;
import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.access.AccessControl;
import dev.torii.access.AccessMetrics;
import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsServer;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.ratelimit.RateLimits;
import dev.torii.route.RoutingTable;
import dev.torii.script.ScriptRuntime;
import dev.torii.server.ConfigReloadResult;
import dev.torii.server.admin.AdminRoutes;
import dev.torii.server.admin.AdminServer;
import dev.torii.server.config.AdminSettings;
import dev.torii.server.config.ConfigError;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.DnsListenerSettings;
import dev.torii.server.config.ServerConfig;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The configuration reload of a running server ({@code ToriiServer.reload()}: SIGHUP, {@code POST /reload}, the file
 * watcher), and the parts of the server a reload swaps: the applied configuration, the rate limits, the access lists,
 * the dns servers and the admin server. One reload runs in five steps:
 *
 * <pre>
 *   read      the file again ({@link ConfigReader}; the serving JavaScript engine checks the plugins)
 *   validate  every section: a problem refuses the whole reload, the running configuration stays
 *   build     everything new before anything changes: a Redis connection ({@link RedisSwap}), the admin server and
 *             new dns/http/tcp addresses bound, access lists read, hooks and the routing table made
 *   swap      in one go, before new sockets accept: table, hooks, limits, forwarding, maintenance
 *             ({@code Gateway.listeners(http, tcp, swap)}); then dns servers, admin, access, rate limits, DNS cache
 *   report    a {@link ConfigReloadResult} (changed sections a reload does not apply named), logs and
 *             {@link ReloadStats}
 * </pre>
 *
 * <p>Thread-safe: reloads are serialized ({@link #reload} is synchronized); the getters may be read from any thread.
 */
public final class ReloadPipeline {
    private static final Logger log = LoggerFactory.getLogger(ReloadPipeline.class);

    /** How often the plugin file watcher looks for changes ({@code plugins.watch}). */
    public static final Duration PLUGIN_WATCH_INTERVAL = Duration.ofSeconds(1);

    /** The configuration the process started with (its {@code ioThreads} made the dns servers' loops). */
    private final ServerConfig config;
    /** The configuration last applied (the start one, then each applied reload's); on the reloading thread. */
    private ServerConfig applied;

    private final Gateway gateway;
    private final ScriptRuntime scripts;
    private final DnsCache dns;
    private final MaintenanceMode maintenance;
    private final Observability observability;
    private final ReloadStats reloads;
    /** The admin API's routes, for an admin server that a changed {@code admin} section starts. */
    private final Supplier<AdminRoutes> adminRoutes;
    /** Tells the engine's policy source for {@code ex.limit} about new rate limits. */
    private final Consumer<RateLimits> scriptLimits;
    /** Whether the server is shutting down (a reload is refused then). */
    private final BooleanSupplier closing;

    /** The file {@link #reload()} reads again; null when started from a {@link ServerConfig} alone. */
    private final Path configFile;
    /** The text the process started with: what the sections a reload does not apply still run as. */
    private final String startText;

    /** The DNS servers, in configuration order; a reload replaces the list (on the reloading thread). */
    private volatile List<DnsServer> dnsServers;

    private volatile AdminServer admin;
    private volatile RateLimits rateLimits;
    private volatile AccessControl access;
    /** The gateway's connection guard of the access lists; a reload swaps the lists behind it. */
    private final AccessGuard accessGuard;
    /** The access lists' meters: they read the lists a reload installs. */
    private final AccessMetrics accessMetrics;

    /**
     * The reload of a server that started with {@code config} (read from {@code configFile}, or null) and runs these
     * parts: {@code gateway} (null when only dns listeners run), {@code scripts} and {@code dns} (null when not
     * configured), {@code dnsServers}, {@code rateLimits}, {@code access} (null without lists) behind
     * {@code accessGuard}.
     */
    public ReloadPipeline(
            ServerConfig config,
            Path configFile,
            Gateway gateway,
            ScriptRuntime scripts,
            DnsCache dns,
            List<DnsServer> dnsServers,
            MaintenanceMode maintenance,
            Observability observability,
            RateLimits rateLimits,
            AccessControl access,
            AccessGuard accessGuard,
            Supplier<AdminRoutes> adminRoutes,
            Consumer<RateLimits> scriptLimits,
            BooleanSupplier closing) {
        this.config = Objects.requireNonNull(config, "config");
        this.applied = config;
        this.configFile = configFile;
        this.gateway = gateway;
        this.scripts = scripts;
        this.dns = dns;
        this.dnsServers = List.copyOf(dnsServers);
        this.maintenance = maintenance;
        this.observability = observability;
        this.rateLimits = rateLimits;
        this.access = access;
        this.accessGuard = accessGuard;
        this.accessMetrics = new AccessMetrics(access);
        this.adminRoutes = adminRoutes;
        this.scriptLimits = scriptLimits;
        this.closing = closing;
        this.reloads = new ReloadStats(observability.metrics().registry());
        this.startText = startText(configFile);
    }

    private static String startText(Path configFile) {
        if (configFile == null) {
            return "";
        }
        try {
            return Files.readString(configFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            log.warn("cannot read {} again ({}); reloads will name every section as changed", configFile, e);
            return "";
        }
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
        if (closing.getAsBoolean()) {
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
                var redisSwap = RedisSwap.prepare(rateLimits, applied, next);
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
                                adminRoutes.get(),
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
                    hooks.addAll(ServerHooks.global(next, nextLimits, nextAccess, scripts));
                    RoutingTable table = next.rateLimits()
                            .withRouteHooks(next.routingTable(), nextLimits, ErrorResponder.plainText());
                    if (next.plugins().routes().values().stream().anyMatch(l -> !l.isEmpty())) {
                        table = ServerHooks.withPlugins(table, next.plugins().routes(), scripts);
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
                scriptLimits.accept(nextLimits);
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
                        scripts.watch(PLUGIN_WATCH_INTERVAL);
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

    /** Takes over the admin server started with the configuration: a reload that changes {@code admin} replaces it. */
    public void adminStarted(AdminServer started) {
        this.admin = started;
    }

    /** The admin server now (the start one, or the last reload's), or null without an {@code admin} section. */
    public AdminServer admin() {
        return admin;
    }

    /** The DNS servers now, one per listener with {@code protocol: dns}, in configuration order. */
    public List<DnsServer> dnsServers() {
        return dnsServers;
    }

    /** The rate-limit policies now (the last applied reload's). */
    public RateLimits rateLimits() {
        return rateLimits;
    }

    /** The access lists now, or null without any. */
    public AccessControl access() {
        return access;
    }

    /** The access lists' meters (they follow each reload). */
    public AccessMetrics accessMetrics() {
        return accessMetrics;
    }

    /** Reload counts and the last result. */
    public ReloadStats stats() {
        return reloads;
    }
}
