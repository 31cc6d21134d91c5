package dev.torii.server.internal;

import dev.torii.Gateway;
import dev.torii.GatewayStats;
import dev.torii.Listener;
import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsCacheStats;
import dev.torii.dns.DnsServer;
import dev.torii.log.AccessLog;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.metrics.DnsCacheMetrics;
import dev.torii.metrics.DnsServerMetrics;
import dev.torii.route.Route;
import dev.torii.script.ScriptRuntime;
import dev.torii.script.ScriptStats;
import dev.torii.server.admin.AdminResponse;
import dev.torii.server.admin.AdminRoutes;
import dev.torii.server.admin.Json;
import dev.torii.server.admin.StatusSampler;
import dev.torii.server.config.ObservabilitySettings;
import dev.torii.server.config.PluginUse;
import dev.torii.server.config.ServerConfig;
import dev.torii.tracing.TracingHook;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the standalone server does so an operator can see it: the metrics registry ({@link ServerMetrics}), the
 * access log ({@code accessLog:}), OpenTelemetry tracing ({@code tracing:}), the status page and the admin API's JSON
 * views. {@link dev.torii.server.ToriiServer} creates it first, lets it add its hooks to the gateway builder
 * ({@link #configure}), tells it what was started ({@link #started}) and asks it for admin endpoints
 * ({@link #adminRoutes}).
 *
 * <p>Thread-safe once started.
 */
public final class Observability implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Observability.class);
    private static final long SAMPLE_MILLIS = 2_000;
    private static final int SAMPLE_POINTS = 150; // 5 minutes

    private final ServerConfig config;
    private final ServerMetrics metrics = new ServerMetrics();
    private final AccessLog accessLog;
    private final OpenTelemetrySdk openTelemetry;
    private StatusSampler sampler;
    private Gateway gateway;
    private DnsCache dns;
    private ScriptRuntime scripts;
    private MaintenanceMode maintenance;

    private Observability(ServerConfig config, AccessLog accessLog, OpenTelemetrySdk openTelemetry) {
        this.config = config;
        this.accessLog = accessLog;
        this.openTelemetry = openTelemetry;
    }

    /**
     * Opens the access log file and builds the tracing SDK when configured.
     *
     * @throws UncheckedIOException when the access log file cannot be opened
     */
    public static Observability create(ServerConfig config) {
        ObservabilitySettings s = config.observability();
        AccessLog accessLog = s.accessLog()
                .map(a -> AccessLog.builder()
                        .format(a.format())
                        .path(a.path().orElse(null))
                        .build())
                .orElse(null);
        OpenTelemetrySdk otel = s.tracing().map(Observability::openTelemetry).orElse(null);
        if (accessLog != null) {
            log.info(
                    "access log: {} lines to {}",
                    accessLog.format().name().toLowerCase(java.util.Locale.ROOT),
                    accessLog.path() == null ? "stdout" : accessLog.path());
            if (accessLog.path() != null) {
                Signals.onUsr1(accessLog::reopen);
            }
        }
        return new Observability(config, accessLog, otel);
    }

    private static OpenTelemetrySdk openTelemetry(ObservabilitySettings.Tracing t) {
        OtlpHttpSpanExporter exporter = OtlpHttpSpanExporter.builder()
                .setEndpoint(t.endpoint().toString())
                .build();
        SdkTracerProvider tracer = SdkTracerProvider.builder()
                .setResource(Resource.getDefault()
                        .merge(Resource.create(Attributes.of(
                                io.opentelemetry.api.common.AttributeKey.stringKey("service.name"), t.serviceName()))))
                .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(t.samplingRatio())))
                .addSpanProcessor(BatchSpanProcessor.builder(exporter)
                        .setScheduleDelay(500, TimeUnit.MILLISECONDS)
                        .build())
                .build();
        log.info("tracing: spans of service {} sampled at {} to {}", t.serviceName(), t.samplingRatio(), t.endpoint());
        return OpenTelemetrySdk.builder()
                .setTracerProvider(tracer)
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build();
    }

    /** The registry every meter goes to. */
    public ServerMetrics metrics() {
        return metrics;
    }

    /** The access log, when configured. */
    public AccessLog accessLog() {
        return accessLog;
    }

    /**
     * Adds the metrics registry and the hooks to {@code builder}: tracing first (its REQUEST step must run before any
     * hook that may answer), then the access log. Call before adding plugin hooks.
     */
    public Gateway.Builder configure(Gateway.Builder builder) {
        builder.meterRegistry(metrics.registry());
        if (openTelemetry != null) {
            builder.hook(new TracingHook(openTelemetry));
        }
        if (accessLog != null) {
            builder.hook(accessLog);
        }
        return builder;
    }

    /** Binds the meters of what was started (each may be null or empty). */
    public void started(
            Gateway gateway,
            List<DnsServer> dnsServers,
            DnsCache dns,
            ScriptRuntime scripts,
            MaintenanceMode maintenance,
            List<MeterBinder> others) {
        this.gateway = gateway;
        this.dns = dns;
        this.scripts = scripts;
        this.maintenance = maintenance;
        List<MeterBinder> binders = new ArrayList<>();
        if (!dnsServers.isEmpty()) {
            binders.add(new DnsServerMetrics(dnsServers));
        }
        if (dns != null) {
            binders.add(new DnsCacheMetrics(dns));
            metrics.dnsCacheHistogram(dns);
        }
        if (scripts != null) {
            binders.add(scriptMetrics(scripts));
        }
        if (accessLog != null) {
            binders.add(accessLog);
        }
        binders.addAll(others); // other components' binders (rate limits...)
        metrics.bind(binders);
    }

    /** {@link ScriptStats} of the plugins' runtime (all plugins together: the runtime counts no more finely yet). */
    static MeterBinder scriptMetrics(ScriptRuntime scripts) {
        return registry -> {
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.failures",
                    "Plugin phase calls that failed.",
                    ScriptStats::failures);
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.timeouts",
                    "Plugin calls past the wall-clock deadline.",
                    ScriptStats::timeouts);
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.budgets.exceeded",
                    "Plugin calls past the statement budget.",
                    ScriptStats::budgetsExceeded);
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.contexts.created",
                    "JavaScript contexts created.",
                    ScriptStats::contextsCreated);
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.contexts.replaced",
                    "JavaScript contexts replaced after a cancelled call.",
                    ScriptStats::contextsReplaced);
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.breaker.trips",
                    "Times a plugin's breaker opened (budget overruns in its window).",
                    ScriptStats::breakerTrips);
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.short.circuited",
                    "Plugin calls skipped or answered 503 while the plugin's breaker was open.",
                    ScriptStats::shortCircuited);
            scriptCounter(
                    registry,
                    scripts,
                    "torii.script.shared.evictions",
                    "Shared dictionary entries evicted to stay within capacity.",
                    ScriptStats::sharedEvictions);
            pluginMetrics(registry, scripts);
        };
    }

    /**
     * Calls, errors and budget trips by plugin: one series per plugin the runtime loaded (the configuration's names,
     * so cardinality is bounded by the config), read from {@link ScriptRuntime#pluginStats()} at scrape time.
     */
    private static void pluginMetrics(io.micrometer.core.instrument.MeterRegistry r, ScriptRuntime scripts) {
        for (String plugin : scripts.pluginStats().keySet()) {
            pluginCounter(
                    r, scripts, plugin, "torii.plugin.calls", "Plugin phase function calls.", "", null, s -> s.calls());
            pluginCounter(
                    r,
                    scripts,
                    plugin,
                    "torii.plugin.errors",
                    "Plugin calls that failed (threw, returned something invalid, or ran past a budget).",
                    "",
                    null,
                    s -> s.failures());
            String trips = "Plugin budget trips: calls past the deadline (timeout) or the statement limit (statements),"
                    + " and breaker openings (breaker).";
            pluginCounter(r, scripts, plugin, "torii.plugin.budget.trips", trips, "kind", "timeout", s -> s.timeouts());
            pluginCounter(
                    r,
                    scripts,
                    plugin,
                    "torii.plugin.budget.trips",
                    trips,
                    "kind",
                    "statements",
                    s -> s.budgetsExceeded());
            pluginCounter(
                    r, scripts, plugin, "torii.plugin.budget.trips", trips, "kind", "breaker", s -> s.breakerTrips());
        }
    }

    private static void pluginCounter(
            io.micrometer.core.instrument.MeterRegistry r,
            ScriptRuntime scripts,
            String plugin,
            String name,
            String help,
            String tagKey,
            String tagValue,
            java.util.function.ToDoubleFunction<dev.torii.script.PluginStats> f) {
        var b = FunctionCounter.builder(name, scripts, s -> {
                    var stats = s.pluginStats().get(plugin);
                    return stats == null ? 0 : f.applyAsDouble(stats);
                })
                .description(help)
                .tag("plugin", plugin);
        if (tagValue != null) {
            b.tag(tagKey, tagValue);
        }
        b.register(r);
    }

    private static void scriptCounter(
            io.micrometer.core.instrument.MeterRegistry r,
            ScriptRuntime scripts,
            String name,
            String help,
            ToDoubleFunction<ScriptStats> f) {
        FunctionCounter.builder(name, scripts, s -> f.applyAsDouble(s.stats()))
                .description(help)
                .register(r);
    }

    /**
     * Adds {@code /metrics}, the status page ({@code /}, {@code /status.js}, {@code /status.json}) and the JSON views
     * {@code /routes}, {@code /upstreams}, {@code /dns/cache} (with {@code ?name=} a lookup through the cache),
     * {@code /plugins} and {@code /config} (effective, secrets redacted).
     */
    public AdminRoutes.Builder adminRoutes(AdminRoutes.Builder b) {
        if (sampler == null) { // the status page's series: sampled only when there is an admin API to show them
            sampler = new StatusSampler(metrics.registry(), SAMPLE_MILLIS, SAMPLE_POINTS);
        }
        byte[] page = resource("status.html");
        byte[] script = resource("status.js");
        return b.get("/", r -> new AdminResponse(200, "text/html; charset=utf-8", page, Map.of()))
                .get("/status.js", r -> new AdminResponse(200, "text/javascript; charset=utf-8", script, Map.of()))
                .get("/status.json", r -> AdminResponse.json(200, Json.write(status())))
                .get("/metrics", r -> new AdminResponse(200, metrics.contentType(), metrics.scrape(), Map.of()))
                .get("/routes", r -> AdminResponse.json(200, Json.write(routes())))
                .get("/upstreams", r -> AdminResponse.json(200, Json.write(upstreams())))
                .get("/dns/cache", r -> dnsCache(r.query().get("name")))
                .get("/plugins", r -> AdminResponse.json(200, Json.write(plugins())))
                .get("/config", r -> AdminResponse.json(200, Json.write(effectiveConfig())));
    }

    private static byte[] resource(String name) {
        try (InputStream in = dev.torii.server.admin.AdminServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource dev/torii/server/admin/" + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Map<String, Object> status() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time", System.currentTimeMillis());
        m.put("intervalMillis", SAMPLE_MILLIS);
        m.put("points", sampler == null ? List.of() : sampler.pointsAsMaps());
        GatewayStats g = gateway == null ? null : gateway.stats();
        m.put("openConnections", g == null ? 0 : g.openConnections());
        m.put("activeExchanges", g == null ? 0 : g.activeExchanges());
        m.put("totalExchanges", g == null ? 0 : g.totalExchanges());
        m.put("maintenance", maintenance != null && maintenance.enabled());
        double limited = 0;
        for (var c : metrics.registry()
                .find("torii.requests")
                .tag("error", "RATE_LIMITED")
                .counters()) {
            limited += c.count();
        }
        m.put("rateLimited", (long) limited);
        Double ratio = null;
        if (dns != null) {
            DnsCacheStats d = dns.stats();
            long lookups = d.hits() + d.staleServed() + d.misses();
            ratio = lookups == 0 ? 0.0 : (double) (d.hits() + d.staleServed()) / lookups;
        }
        m.put("dnsHitRatio", ratio);
        m.put("accessLogDropped", accessLog == null ? null : accessLog.dropped());
        m.put("upstreams", upstreams());
        return m;
    }

    List<Map<String, Object>> routes() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Route r : currentTable().routes()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", r.name());
            m.put("host", r.match().host());
            m.put("pathPrefix", r.match().pathPrefix());
            m.put("methods", r.match().methods());
            m.put("headers", r.match().headers().keySet());
            m.put("upstream", r.upstream());
            m.put("hooks", r.hooks().stream().map(h -> h.name()).toList());
            out.add(m);
        }
        return out;
    }

    List<Map<String, Object>> upstreams() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Upstream u : currentTable().upstreams().values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", u.name());
            m.put("endpoints", u.endpoints().stream().map(Endpoint::authority).toList());
            m.put("protocol", u.protocol().toString());
            m.put("loadBalancing", u.loadBalancing().toString());
            m.put("maxConnectionsPerEndpoint", u.maxConnectionsPerEndpoint());
            m.put("outlierDetection", u.outlierDetection() != null);
            m.put(
                    "healthCheck",
                    u.healthCheck() == null
                            ? null
                            : u.healthCheck().connectOnly()
                                    ? "tcp connect"
                                    : u.healthCheck().path());
            m.put("panic", u.panic());
            m.put("health", endpointHealth(u.name()));
            out.add(m);
        }
        return out;
    }

    /** Each endpoint's health as the gateway sees it now (every endpoint healthy before the gateway runs). */
    private List<Map<String, Object>> endpointHealth(String upstream) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (gateway == null) {
            return out;
        }
        for (dev.torii.upstream.EndpointStatus s : gateway.upstreamHealth()) {
            if (!s.upstream().equals(upstream)) {
                continue;
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("endpoint", s.endpoint().authority());
            m.put("available", s.available());
            m.put("healthy", s.healthy());
            m.put("ejected", s.ejected());
            m.put("ejectedForMillis", s.ejectedForMillis());
            m.put("consecutiveFailures", s.consecutiveFailures());
            m.put("ejections", s.ejections());
            m.put("inFlight", s.inFlight());
            out.add(m);
        }
        return out;
    }

    private dev.torii.route.RoutingTable currentTable() {
        return gateway != null ? gateway.routingTable() : config.routingTable();
    }

    private AdminResponse dnsCache(String name) throws Exception {
        if (dns == null) {
            return AdminResponse.json(404, Json.write(Map.of("error", "no dns section: no DNS cache")));
        }
        DnsCacheStats s = dns.stats();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("hits", s.hits());
        m.put("staleServed", s.staleServed());
        m.put("misses", s.misses());
        m.put("coalesced", s.coalesced());
        m.put("refreshes", s.refreshes());
        m.put("rejected", s.rejected());
        m.put("upstreamQueries", s.upstreamQueries());
        m.put("upstreamErrors", s.upstreamErrors());
        m.put("upstreamTimeouts", s.upstreamTimeouts());
        m.put("inFlight", s.inFlight());
        m.put("entries", s.entries());
        if (name != null && !name.isBlank()) {
            Map<String, Object> lookup = new LinkedHashMap<>();
            lookup.put("name", name);
            try {
                // The admin thread may wait a little; the cache answers from memory or within its own timeouts.
                List<InetAddress> addresses = dns.resolve(name).get(5, TimeUnit.SECONDS);
                lookup.put(
                        "addresses",
                        addresses.stream().map(InetAddress::getHostAddress).toList());
            } catch (java.util.concurrent.ExecutionException e) {
                lookup.put("error", String.valueOf(e.getCause().getMessage()));
            } catch (java.util.concurrent.TimeoutException e) {
                lookup.put("error", "no answer within 5 s");
            }
            m.put("lookup", lookup);
        }
        return AdminResponse.json(200, Json.write(m));
    }

    List<Map<String, Object>> plugins() {
        List<Map<String, Object>> out = new ArrayList<>();
        List<PluginUse> uses = new ArrayList<>(config.plugins().global());
        config.plugins().routes().values().forEach(uses::addAll);
        Map<String, Map<String, Object>> byName = new LinkedHashMap<>();
        for (PluginUse u : uses) {
            byName.computeIfAbsent(u.plugin().name(), n -> {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", n);
                m.put("version", u.plugin().version());
                m.put("directory", u.plugin().directory().toString());
                m.put(
                        "phases",
                        u.plugin().phases().stream().map(Enum::name).sorted().toList());
                return m;
            });
        }
        out.addAll(byName.values());
        if (scripts != null) {
            ScriptStats s = scripts.stats();
            Map<String, Object> totals = new LinkedHashMap<>();
            totals.put("failures", s.failures());
            totals.put("timeouts", s.timeouts());
            totals.put("budgetsExceeded", s.budgetsExceeded());
            totals.put("contextsReplaced", s.contextsReplaced());
            out.forEach(p -> p.put("runtimeTotals", totals)); // the runtime counts for all plugins together
        }
        return out;
    }

    /** The configuration in effect; the admin token is shown as {@code [redacted]}, never its value. */
    Map<String, Object> effectiveConfig() {
        Map<String, Object> m = new LinkedHashMap<>();
        List<Map<String, Object>> listeners = new ArrayList<>();
        for (Listener l : config.listeners()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("name", l.name());
            x.put("protocol", l.protocol().toString());
            x.put("address", l.host() + ":" + l.port());
            x.put("tls", l.tls() != null);
            listeners.add(x);
        }
        m.put("listeners", listeners);
        m.put(
                "tcpListeners",
                config.tcpListeners().stream()
                        .map(t -> t.listener().name() + " -> " + t.listener().upstream())
                        .toList());
        m.put("dnsListeners", config.dnsListeners().size());
        m.put("routes", routes());
        m.put("upstreams", upstreams());
        m.put("limits", config.limits().toString());
        m.put("http2Limits", config.http2Limits().toString());
        m.put("forwarding", config.forwarding().toString());
        m.put("ioThreads", config.ioThreads());
        m.put("dns", config.dns().map(d -> (Object) d.upstreams().toString()).orElse(null));
        m.put("maintenance", config.maintenance().toString());
        Map<String, Object> admin = new LinkedHashMap<>();
        config.admin().ifPresent(a -> admin.put("address", a.host() + ":" + a.port()));
        admin.put("token", config.observability().effectiveAdminToken().isPresent() ? "[redacted]" : null);
        m.put("admin", admin);
        m.put(
                "accessLog",
                config.observability()
                        .accessLog()
                        .map(a -> (Object) Map.of(
                                "format", a.format().name().toLowerCase(java.util.Locale.ROOT),
                                "path", a.path().map(Object::toString).orElse("stdout")))
                        .orElse(null));
        m.put(
                "tracing",
                config.observability()
                        .tracing()
                        .map(t -> (Object) Map.of(
                                "endpoint", t.endpoint().toString(),
                                "samplingRatio", t.samplingRatio(),
                                "serviceName", t.serviceName()))
                        .orElse(null));
        return m;
    }

    /** Stops the sampler, flushes and closes the access log and the tracing SDK (exporting what is batched). */
    @Override
    public void close() {
        if (sampler != null) {
            sampler.close();
        }
        if (accessLog != null) {
            accessLog.close();
        }
        if (openTelemetry != null) {
            openTelemetry.getSdkTracerProvider().shutdown().join(5, TimeUnit.SECONDS);
        }
        metrics.close();
    }
}
