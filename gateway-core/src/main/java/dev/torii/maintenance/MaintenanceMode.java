package dev.torii.maintenance;

import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.ProxyError;
import dev.torii.internal.Cidr;
import dev.torii.maintenance.internal.FlagFile;
import dev.torii.maintenance.internal.MaintenancePolicy;
import dev.torii.maintenance.internal.RedisSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The maintenance switch: while it is on, every HTTP request gets {@code 503} ({@link ProxyError#MAINTENANCE}) with
 * the maintenance page and {@code Retry-After}, before routing and before every other hook's {@code onRequest}
 * (JavaScript plugins included), except requests that match a bypass (operators checking the site).
 *
 * <h2>Inputs</h2>
 * Maintenance is on while any of these is:
 * <ul>
 *   <li>the <em>switch</em>, flipped at run time with {@link #enable(MaintenanceSource)} and
 *       {@link #disable(MaintenanceSource)} (the admin API, a Java or JavaScript caller) and, with
 *       {@link Builder#redis Redis}, by any replica: the state lives in a Redis key and each change is announced on a
 *       pub/sub channel, so every replica switches as soon as the message arrives. While Redis is unreachable the
 *       last known state stays in force (logged once when Redis goes and once when it comes back, and in
 *       {@link #stats()}); after an outage the replica resyncs from the key;
 *   <li>the optional <em>flag file</em>, on while the file exists (a deploy script's {@code touch maintenance.on});
 *   <li>a <em>scheduled window</em> ({@link MaintenanceWindow}: start and end, ISO-8601) that is open now, from the
 *       configuration or added at run time ({@link #addWindow}).
 * </ul>
 * The switch and windows may also name <em>routes</em>: maintenance then applies to the requests those routes match
 * only. Such requests are answered in the {@link dev.torii.Phase#UPSTREAM UPSTREAM} phase, once the route is known:
 * global {@code onRequest} hooks and the route's {@code onRequest} hooks have run, the upstream is not contacted.
 *
 * <h2>Bypass</h2>
 * A request passes while maintenance is on when its client address falls in a {@link Builder#bypass bypass block},
 * its path starts with a {@link Builder#bypassPaths bypass prefix} (health checks, the status page), or it carries a
 * {@link Builder#bypassTokens bypass token} in the {@link Builder#bypassHeader bypass header} (compared in constant
 * time).
 *
 * <h2>The page</h2>
 * The answer is the HTML (or other) {@link Builder#page page}, or the {@link Builder#jsonPage JSON page} when the
 * request's {@code Accept} prefers {@code application/json} to {@code text/html}; without a page of the preferred kind
 * it is the error responder's rendering of MAINTENANCE (for HTML) or a small built-in JSON body. Then, like every local
 * answer, it goes through the gateway's global {@code onResponse} hooks (plugins may add headers to it), so a plugin
 * sees the 503 in {@code onResponse} although its {@code onRequest} did not run.
 *
 * <h2>Structure</h2>
 * This class is the switch: its state, the admin/API changes and the windows. Two sources live in classes of their
 * own: the flag file ({@link dev.torii.maintenance.internal.FlagFile}) and the Redis key and channel shared by the
 * replicas ({@link dev.torii.maintenance.internal.RedisSource}, over
 * {@link dev.torii.maintenance.internal.RedisSwitch}'s connections). What a request meets while maintenance applies to
 * it (the bypasses and the page by {@code Accept}) is the request policy,
 * {@link dev.torii.maintenance.internal.MaintenancePolicy}, which {@link #hook} hands each such request to.
 *
 * <h2>Threading</h2>
 * The flag file, the schedule's transitions (for the log) and Redis are looked after by one daemon thread once
 * {@link #start()} ran (the gateway calls it); a request only reads volatile fields and the clock. TCP listeners are
 * not affected (their CONNECT hooks may read {@link #enabled()} and reject). Scripts read the state as
 * {@code torii.maintenance.enabled}; with {@link Builder#respond respond(false)} the switch only holds the state and a
 * plugin decides what to answer. Every change is logged with its {@link MaintenanceSource source}.
 *
 * <p>Thread-safe.
 */
public final class MaintenanceMode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MaintenanceMode.class);

    /** The flag file (a source); a reload may move it ({@link #reconfigure}). */
    private final FlagFile file;

    private final Duration pollInterval;
    /** How a request is treated while maintenance applies to it: bypasses and the page. */
    private volatile MaintenancePolicy policy;
    /** What the policies {@link #reconfigure} replaced answered and let through, so the counters never go down. */
    private final java.util.concurrent.atomic.LongAdder answeredBefore = new java.util.concurrent.atomic.LongAdder();

    private final java.util.concurrent.atomic.LongAdder bypassedBefore = new java.util.concurrent.atomic.LongAdder();

    private final InstantSource clock;
    /** Where the switch is shared through Redis (a source), if anywhere; a reload may move it ({@link #reconfigure}). */
    private final RedisSource redis;

    private volatile boolean switchOn;
    private volatile Set<String> routesOn;
    private volatile List<MaintenanceWindow> windows;
    private boolean scheduleOnLogged;
    private Set<String> scheduleRoutesLogged = Set.of();
    private final AtomicLong switches = new AtomicLong();
    private ScheduledExecutorService scheduler;
    private volatile boolean closed;

    private MaintenanceMode(Builder b) {
        this.file = new FlagFile(b.file);
        this.pollInterval = b.pollInterval;
        this.policy = new MaintenancePolicy(
                b.page,
                b.contentType,
                b.jsonPage,
                b.retryAfter,
                b.bypass,
                b.bypassPaths,
                b.bypassHeader,
                b.bypassTokens,
                b.respond);
        this.clock = b.clock;
        this.switchOn = b.enabled;
        this.routesOn = Set.copyOf(b.routes);
        this.windows = List.copyOf(b.windows);
        this.redis = new RedisSource(
                b.redisHost == null
                        ? null
                        : new RedisSource.Target(
                                b.redisHost, b.redisPort, b.redisKey, b.redisReconnectDelay, b.redisTimeout),
                this::sharedState,
                this::applyShared);
    }

    /** A builder: off, no flag file, the error responder's page, {@code Retry-After: 300}, no bypass, no Redis. */
    public static Builder builder() {
        return new Builder();
    }

    /** Turns the switch on, as a Java caller ({@link MaintenanceSource#API}). */
    public void enable() {
        enable(MaintenanceSource.API);
    }

    /** Turns the switch off, as a Java caller ({@link MaintenanceSource#API}); the file and windows are independent. */
    public void disable() {
        disable(MaintenanceSource.API);
    }

    /** Turns the switch on for every request; shared through Redis when configured. Logged with {@code source}. */
    public void enable(MaintenanceSource source) {
        change(true, routesOn, source, true);
    }

    /** Turns the switch off (routes switched on one by one stay on); shared through Redis when configured. */
    public void disable(MaintenanceSource source) {
        change(false, routesOn, source, true);
    }

    /** Puts one route in maintenance (the requests it matches get the page); shared through Redis when configured. */
    public void enableRoute(String route, MaintenanceSource source) {
        var routes = new HashSet<>(routesOn);
        routes.add(Objects.requireNonNull(route, "route"));
        change(switchOn, routes, source, true);
    }

    /** Takes one route out of maintenance (the global switch, file and windows are independent). */
    public void disableRoute(String route, MaintenanceSource source) {
        var routes = new HashSet<>(routesOn);
        routes.remove(Objects.requireNonNull(route, "route"));
        change(switchOn, routes, source, true);
    }

    private synchronized void change(boolean on, Set<String> routes, MaintenanceSource source, boolean share) {
        boolean changed = false;
        if (on != switchOn) {
            switchOn = on;
            changed = true;
            switches.incrementAndGet();
            log.info(
                    "maintenance switch {} (source: {}){}",
                    on ? "on" : "off",
                    source,
                    !on && file.on() ? "; still on: the flag file " + file.path() + " exists" : "");
        }
        if (!routes.equals(routesOn)) {
            for (String r : new TreeSet<>(routes)) {
                if (!routesOn.contains(r)) {
                    switches.incrementAndGet();
                    log.info("maintenance for route '{}' on (source: {})", r, source);
                }
            }
            for (String r : new TreeSet<>(routesOn)) {
                if (!routes.contains(r)) {
                    switches.incrementAndGet();
                    log.info("maintenance for route '{}' off (source: {})", r, source);
                }
            }
            routesOn = Set.copyOf(routes);
            changed = true;
        }
        if (changed && share) {
            redis.publish();
        }
    }

    /** The state as written to Redis: {@code on} or {@code off}, then {@code  routes=a,b} when routes are on. */
    private String sharedState() {
        return RedisSource.encode(switchOn, routesOn);
    }

    /** Applies a state read from Redis (another replica's change). Unknown text is logged and ignored. */
    private void applyShared(String value) {
        RedisSource.State state = RedisSource.decode(value);
        if (state != null) {
            change(state.on(), state.routes(), MaintenanceSource.REDIS, false);
        }
    }

    /** Whether maintenance is on for every request: the switch, the flag file (as of the last poll) or a window. */
    public boolean enabled() {
        return switchOn || file.on() || scheduleOn(clock.instant(), null);
    }

    /** Whether requests of route {@code route} get the page: maintenance is on globally or for that route. */
    public boolean enabled(String route) {
        if (enabled()) {
            return true;
        }
        return route != null && (routesOn.contains(route) || scheduleOn(clock.instant(), route));
    }

    /** {@code route == null}: whether a global window is open; else whether a window for that route is. */
    private boolean scheduleOn(Instant now, String route) {
        List<MaintenanceWindow> ws = windows;
        for (int i = 0; i < ws.size(); i++) {
            MaintenanceWindow w = ws.get(i);
            if (w.activeAt(now) && (route == null ? w.global() : w.routes().contains(route))) {
                return true;
            }
        }
        return false;
    }

    /** Whether the switch is on, whatever the flag file and the windows say. */
    public boolean switchedOn() {
        return switchOn;
    }

    /** The routes switched into maintenance one by one (not counting windows). */
    public Set<String> routesSwitchedOn() {
        return routesOn;
    }

    /** The scheduled windows, past ones included until removed. */
    public List<MaintenanceWindow> windows() {
        return windows;
    }

    /** Adds a window (this replica only: windows are not shared through Redis; give every replica the same YAML). */
    public synchronized void addWindow(MaintenanceWindow window, MaintenanceSource source) {
        Objects.requireNonNull(window, "window");
        var all = new ArrayList<>(windows);
        all.add(window);
        windows = List.copyOf(all);
        log.info("maintenance window {} scheduled (source: {})", window, source);
        checkSchedule();
    }

    /** Removes a window equal to {@code window}; returns whether there was one. */
    public synchronized boolean removeWindow(MaintenanceWindow window, MaintenanceSource source) {
        var all = new ArrayList<>(windows);
        boolean removed = all.remove(window);
        if (removed) {
            windows = List.copyOf(all);
            log.info("maintenance window {} removed (source: {})", window, source);
            checkSchedule();
        }
        return removed;
    }

    /** The flag file, or {@code null} without one. */
    public Path file() {
        return file.path();
    }

    /** Whether the flag file existed at the last poll ({@code false} without a file). */
    public boolean fileOn() {
        return file.on();
    }

    /** The {@code Retry-After} sent with the page, or {@code null} for none. */
    public Duration retryAfter() {
        return policy.retryAfter();
    }

    /** The client address blocks that pass through while maintenance is on. */
    public List<String> bypass() {
        return policy.bypass();
    }

    /** Whether the gateway answers with the page while on ({@code false}: the state is for plugins to act on). */
    public boolean responds() {
        return policy.responds();
    }

    /** A snapshot of the state and the counters. */
    public MaintenanceStats stats() {
        Instant now = clock.instant();
        var routes = new TreeSet<>(routesOn);
        for (MaintenanceWindow w : windows) {
            if (w.activeAt(now)) {
                routes.addAll(w.routes());
            }
        }
        return new MaintenanceStats(
                enabled(),
                routes,
                switchOn,
                file.on(),
                scheduleOn(now, null),
                redis.inUse(),
                redis.connected(),
                redis.outages(),
                switches.get(),
                answeredBefore.sum() + policy.answered(),
                bypassedBefore.sum() + policy.bypassed());
    }

    /**
     * Takes the settings of {@code fresh} (a switch built from a reloaded configuration, never started) while running:
     * always its request policy (page, {@code Retry-After}, bypasses, whether to respond); its windows when
     * {@code windows} (they replace the running ones, those added through the admin API too); its switch and routes
     * when {@code switchAndRoutes}. The caller passes those flags as "the file changed them", so a reload does not undo what
     * the admin API switched; a switch or routes changed that way are shared through Redis like any local change.
     *
     * <p>The flag file and Redis follow {@code fresh} too: a new flag file is polled from now on (checked at once, so
     * {@link #fileOn()} is current when this returns; without one the file's part is off). A new Redis server or key
     * gets new connections (connecting asynchronously, as at start; the old ones close): the new key's state is read
     * and applied when it holds one, as a replica that starts does; a missing key is seeded with this switch's state;
     * a switch the file changed in this same reload is written to it instead. The poll interval stays as started. Any
     * thread.
     */
    public synchronized void reconfigure(MaintenanceMode fresh, boolean switchAndRoutes, boolean windows) {
        Objects.requireNonNull(fresh, "fresh");
        MaintenancePolicy old = policy;
        policy = fresh.policy;
        answeredBefore.add(old.answered());
        bypassedBefore.add(old.bypassed());
        if (windows) {
            this.windows = fresh.windows;
        }
        boolean switched = false;
        if (switchAndRoutes) {
            if (switchOn != fresh.switchOn) {
                switches.incrementAndGet();
            }
            switched = switchOn != fresh.switchOn || !routesOn.equals(fresh.routesOn);
            switchOn = fresh.switchOn;
            routesOn = fresh.routesOn;
        }
        if (file.moveTo(fresh.file.path())) {
            checkFile();
        }
        redis.moveTo(fresh.redis.target(), scheduler != null);
        if (switched) {
            redis.publish();
        }
        log.info("maintenance settings reloaded: {}", this);
        checkSchedule();
    }

    /**
     * Starts the daemon thread that polls the flag file, logs schedule transitions and keeps the Redis connection
     * (connecting now, asynchronously). Idempotent. {@link dev.torii.Gateway#start()} calls it for the switch it was
     * built with.
     */
    public synchronized void start() {
        if (scheduler != null || closed) {
            return;
        }
        poll();
        scheduler = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("torii-maintenance").daemon().factory());
        long nanos = pollInterval.toNanos();
        scheduler.scheduleWithFixedDelay(this::poll, nanos, nanos, TimeUnit.NANOSECONDS);
        // Whichever Redis connections are current: a reload may replace them, or add the first ones.
        redis.tick();
        scheduler.scheduleWithFixedDelay(redis::tick, nanos, nanos, TimeUnit.NANOSECONDS);
    }

    /** Checks the flag file and the schedule now (the thread started by {@link #start()} does it every interval). */
    public void poll() {
        try {
            checkFile();
            checkSchedule();
        } catch (RuntimeException e) {
            log.warn("maintenance poll failed", e);
        }
    }

    /** Whether the flag file exists now; without one (a reload removed it) the file's part is off. */
    private synchronized void checkFile() {
        if (file.check()) {
            switches.incrementAndGet();
        }
    }

    /** Logs (and counts) the windows' transitions since the last check. */
    private synchronized void checkSchedule() {
        Instant now = clock.instant();
        boolean on = scheduleOn(now, null);
        if (on != scheduleOnLogged) {
            scheduleOnLogged = on;
            switches.incrementAndGet();
            log.info("maintenance {} (source: schedule)", on ? "on: a window began" : "window ended");
        }
        var routes = new TreeSet<String>();
        for (MaintenanceWindow w : windows) {
            if (w.activeAt(now)) {
                routes.addAll(w.routes());
            }
        }
        if (!routes.equals(scheduleRoutesLogged)) {
            for (String r : routes) {
                if (!scheduleRoutesLogged.contains(r)) {
                    switches.incrementAndGet();
                    log.info("maintenance for route '{}' on (source: schedule)", r);
                }
            }
            for (String r : scheduleRoutesLogged) {
                if (!routes.contains(r)) {
                    switches.incrementAndGet();
                    log.info("maintenance for route '{}' off (source: schedule)", r);
                }
            }
            scheduleRoutesLogged = Set.copyOf(routes);
        }
    }

    /** Stops the thread and closes the Redis connections. The state stays readable. */
    @Override
    public synchronized void close() {
        closed = true;
        if (scheduler != null) {
            scheduler.shutdownNow();
            scheduler = null;
        }
        redis.close();
    }

    /**
     * The hook that answers while maintenance is on: in {@link dev.torii.Phase#REQUEST} for the whole gateway, in
     * {@link dev.torii.Phase#UPSTREAM} for routes in maintenance. The page (by {@code Accept}) when one was set, else
     * {@code responder}'s response for {@link ProxyError#MAINTENANCE}; {@code Retry-After} and
     * {@code Cache-Control: no-store} added. {@link dev.torii.Gateway.Builder#maintenance} installs it before every
     * other hook.
     */
    public Hook hook(ErrorResponder responder) {
        Objects.requireNonNull(responder, "responder");
        return new Hook() {
            @Override
            public String name() {
                return "maintenance";
            }

            @Override
            public HookResult onRequest(Exchange exchange) {
                if (!policy.responds() || !enabled()) {
                    return HookResult.proceed();
                }
                return policy.answer(responder, exchange);
            }

            @Override
            public HookResult onUpstream(Exchange exchange) {
                if (!policy.responds() || (routesOn.isEmpty() && windows.isEmpty()) || exchange.route() == null) {
                    return HookResult.proceed();
                }
                if (!enabled(exchange.route().name())) {
                    return HookResult.proceed();
                }
                return policy.answer(responder, exchange);
            }
        };
    }

    @Override
    public String toString() {
        Path f = file.path();
        RedisSource.Target t = redis.target();
        return "MaintenanceMode(" + (enabled() ? "on" : "off") + (f != null ? ", file " + f : "")
                + (routesOn.isEmpty() ? "" : ", routes " + new TreeSet<>(routesOn))
                + (t != null ? ", redis " + t : "") + ")";
    }

    /** Builds a {@link MaintenanceMode}; {@link #build()} checks the settings. Not thread-safe. */
    public static final class Builder {
        private boolean enabled;
        private Set<String> routes = Set.of();
        private Path file;
        private Duration pollInterval = Duration.ofSeconds(1);
        private byte[] page;
        private String contentType;
        private byte[] jsonPage;
        private Duration retryAfter = Duration.ofSeconds(300);
        private List<String> bypass = List.of();
        private List<String> bypassPaths = List.of();
        private String bypassHeader = "x-maintenance-bypass";
        private List<String> bypassTokens = List.of();
        private boolean respond = true;
        private InstantSource clock = InstantSource.system();
        private List<MaintenanceWindow> windows = List.of();
        private String redisHost;
        private int redisPort;
        private String redisKey = "torii:maintenance";
        private Duration redisReconnectDelay = Duration.ofSeconds(1);
        private Duration redisTimeout = Duration.ofSeconds(2);

        private Builder() {}

        /** Whether the switch starts on (default off). With Redis, the shared key's state replaces it once read. */
        public Builder enabled(boolean enabled) {
            this.enabled = enabled;
            return this;
        }

        /** Routes whose requests start in maintenance (default none). */
        public Builder routes(Set<String> routes) {
            this.routes = Set.copyOf(routes);
            return this;
        }

        /** A flag file: maintenance is on while it exists. */
        public Builder file(Path file) {
            this.file = Objects.requireNonNull(file, "file");
            return this;
        }

        /** How often the flag file, the schedule and the Redis connection are checked (default 1 s). */
        public Builder pollInterval(Duration interval) {
            this.pollInterval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /**
         * The page to answer with (not copied), unless the client prefers JSON. Without one, the gateway's error
         * responder renders MAINTENANCE.
         */
        public Builder page(byte[] body, String contentType) {
            this.page = Objects.requireNonNull(body, "body");
            this.contentType = Objects.requireNonNull(contentType, "contentType");
            return this;
        }

        /** {@link #page(byte[], String)} with a UTF-8 text. */
        public Builder page(String body, String contentType) {
            return page(Objects.requireNonNull(body, "body").getBytes(StandardCharsets.UTF_8), contentType);
        }

        /**
         * The {@code application/json} body for clients whose {@code Accept} prefers JSON to HTML (not copied).
         * Without one they get {@code {"status":503,"error":"MAINTENANCE","retryAfter":N}}.
         */
        public Builder jsonPage(byte[] body) {
            this.jsonPage = Objects.requireNonNull(body, "body");
            return this;
        }

        /** The {@code Retry-After} to send, whole seconds (default 300 s); {@code null} sends none. */
        public Builder retryAfter(Duration retryAfter) {
            this.retryAfter = retryAfter;
            return this;
        }

        /** Client address blocks ({@code 10.0.0.0/8}, {@code 192.0.2.7}) whose requests pass while maintenance is on. */
        public Builder bypass(List<String> cidrs) {
            this.bypass = List.copyOf(cidrs);
            return this;
        }

        /** Path prefixes ({@code /healthz}, {@code /status/}) whose requests pass while maintenance is on. */
        public Builder bypassPaths(List<String> prefixes) {
            this.bypassPaths = List.copyOf(prefixes);
            return this;
        }

        /** The request header that carries a bypass token (default {@code x-maintenance-bypass}). */
        public Builder bypassHeader(String name) {
            this.bypassHeader = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Secrets that let a request pass when sent in the {@link #bypassHeader bypass header}. */
        public Builder bypassTokens(List<String> tokens) {
            this.bypassTokens = List.copyOf(tokens);
            return this;
        }

        /** Whether the gateway answers while on (default true); false leaves answering to plugins. */
        public Builder respond(boolean respond) {
            this.respond = respond;
            return this;
        }

        /** Scheduled windows (more can be added at run time). */
        public Builder windows(List<MaintenanceWindow> windows) {
            this.windows = List.copyOf(windows);
            return this;
        }

        /** The clock windows are compared with (default the system clock; tests pass their own). */
        public Builder clock(InstantSource clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Shares the switch with every replica through Redis at {@code address} ({@code host:port}): the key
         * {@code key} holds the state and the channel of the same name announces changes.
         */
        public Builder redis(String address, String key) {
            Objects.requireNonNull(address, "address");
            int colon = address.lastIndexOf(':');
            String host = colon > 0 ? address.substring(0, colon) : "";
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(address.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (host.isBlank() || port < 1 || port > 65535) {
                throw new IllegalArgumentException(
                        "redis address: '" + address + "' (expected: host:port, e.g. 127.0.0.1:6379)");
            }
            if (key == null || key.isBlank()) {
                throw new IllegalArgumentException("maintenance redis key: '" + key + "' (expected: a key name)");
            }
            this.redisHost = host;
            this.redisPort = port;
            this.redisKey = key;
            return this;
        }

        /** How long Lettuce waits between reconnection attempts (default 1 s). */
        public Builder redisReconnectDelay(Duration delay) {
            this.redisReconnectDelay = Objects.requireNonNull(delay, "delay");
            return this;
        }

        /** How long one Redis command may take before it counts as a failure (default 2 s). */
        public Builder redisTimeout(Duration timeout) {
            this.redisTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        public MaintenanceMode build() {
            if (pollInterval.compareTo(Duration.ofMillis(10)) < 0) {
                throw new IllegalArgumentException(
                        "maintenance pollInterval: " + pollInterval + " (expected: at least 10ms)");
            }
            if (retryAfter != null && retryAfter.isNegative()) {
                throw new IllegalArgumentException("maintenance retryAfter: " + retryAfter + " (expected: >= 0)");
            }
            if (contentType != null
                    && (contentType.isBlank() || contentType.chars().anyMatch(c -> c < ' '))) {
                throw new IllegalArgumentException(
                        "maintenance contentType: '" + contentType + "' (expected: a media type like text/html)");
            }
            for (String c : bypass) {
                try {
                    Cidr.parse(c);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(
                            "maintenance bypass: '" + c + "' (expected: a CIDR block like 10.0.0.0/8 or an address)");
                }
            }
            for (String p : bypassPaths) {
                if (p == null || !p.startsWith("/")) {
                    throw new IllegalArgumentException(
                            "maintenance bypassPaths: '" + p + "' (expected: a path prefix starting with /)");
                }
            }
            if (bypassHeader.isBlank() || !bypassHeader.chars().allMatch(c -> c > ' ' && c < 127 && c != ':')) {
                throw new IllegalArgumentException(
                        "maintenance bypassHeader: '" + bypassHeader + "' (expected: a header name)");
            }
            for (String t : bypassTokens) {
                if (t == null || t.length() < 16) {
                    throw new IllegalArgumentException("maintenance bypassTokens: a token of "
                            + (t == null ? 0 : t.length()) + " characters (expected: at least 16)");
                }
            }
            if (redisReconnectDelay.isNegative() || redisReconnectDelay.isZero()) {
                throw new IllegalArgumentException(
                        "maintenance redis reconnectDelay: " + redisReconnectDelay + " (expected: > 0)");
            }
            if (redisTimeout.isNegative() || redisTimeout.isZero()) {
                throw new IllegalArgumentException("maintenance redis timeout: " + redisTimeout + " (expected: > 0)");
            }
            return new MaintenanceMode(this);
        }
    }
}
