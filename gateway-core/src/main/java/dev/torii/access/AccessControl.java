package dev.torii.access;

import dev.torii.ConnectionGuard;
import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.ProxyError;
import dev.torii.access.AccessList.Compiled;
import dev.torii.internal.Cidr;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.Connection;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Enforces an {@link AccessPolicy}: refuses clients by IP address with {@code 403} ({@link ProxyError#ACCESS_DENIED})
 * through the gateway's {@link ErrorResponder}, or by closing a TCP connection at connect time.
 *
 * <h2>Where each list is checked</h2>
 * <ul>
 *   <li>global and listener lists: in {@link dev.torii.Phase#REQUEST} (HTTP; the listener's list when the exchange
 *       names its listener) and {@link dev.torii.Phase#CONNECT} (TCP listeners);
 *   <li>route lists: in {@link dev.torii.Phase#UPSTREAM}, once the route is known (the route's own {@code onRequest}
 *       hooks have run then; the upstream is never contacted for a refused client).
 * </ul>
 *
 * <h2>The client address</h2>
 * The TCP peer's, or, when the peer is one of the {@link Builder#trustedProxies trusted proxies}, the right-most
 * address of {@code X-Forwarded-For} that is not itself a trusted proxy (the one the nearest trusted proxy saw), the
 * same trust rule as {@link dev.torii.Forwarding}. A client cannot forge its way past a list with the header.
 *
 * <h2>Files</h2>
 * A list may name a file of {@code allow}/{@code deny} lines. {@link #start()} reads every file (and fails when one
 * cannot be read: a gateway never starts with a list it could not load), then a daemon thread checks them every
 * {@link AccessPolicy#reloadInterval()} and reloads those whose size or modification time changed. A file that cannot
 * be read or parsed at a reload is logged, counted, and the previous list stays in use. Requests only read a volatile
 * snapshot; nothing touches the file system on an event loop.
 *
 * <p>Thread-safe.
 */
public final class AccessControl implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AccessControl.class);

    private final AccessPolicy policy;
    private final List<Cidr> trusted;
    private final Map<Path, AccessList> fileLists = new HashMap<>();
    private final Map<Path, String> fileStamps = new HashMap<>();
    private volatile Snapshot snapshot;
    private final LongAdder deniedRequests = new LongAdder();
    private final LongAdder deniedConnections = new LongAdder();
    private final LongAdder deniedAtAccept = new LongAdder();
    private final LongAdder reloads = new LongAdder();
    private final LongAdder reloadFailures = new LongAdder();
    private ScheduledExecutorService watcher;
    private boolean closed;

    /** The compiled lists in use. */
    private record Snapshot(Compiled global, Map<String, Compiled> listeners, Map<String, Compiled> routes) {}

    private AccessControl(Builder b) {
        this.policy = b.policy;
        this.trusted = Cidr.parseAll(b.trustedProxies);
        this.snapshot = compile();
    }

    /** A builder for {@code policy}, trusting no proxy. */
    public static Builder builder(AccessPolicy policy) {
        return new Builder(policy);
    }

    /** The policy enforced. */
    public AccessPolicy policy() {
        return policy;
    }

    /**
     * Reads every list file now and starts the daemon thread that reloads them when they change. Idempotent.
     *
     * @throws IllegalStateException when a file cannot be read or parsed (the message names the file and the line)
     */
    public synchronized AccessControl start() {
        if (watcher != null || closed) {
            return this;
        }
        for (Path file : files()) {
            try {
                load(file);
            } catch (IOException | IllegalArgumentException e) {
                throw new IllegalStateException("access list " + describe(file, e), e);
            }
        }
        snapshot = compile();
        if (!fileStamps.isEmpty()) {
            watcher = Executors.newSingleThreadScheduledExecutor(
                    Thread.ofPlatform().name("torii-access-lists").daemon().factory());
            long nanos = policy.reloadInterval().toNanos();
            watcher.scheduleWithFixedDelay(this::reload, nanos, nanos, TimeUnit.NANOSECONDS);
        }
        return this;
    }

    /**
     * Reloads the list files that changed since they were last read; a broken one keeps its previous list (logged and
     * counted). Runs on the calling thread (the watcher's, normally). Returns how many files were reloaded.
     */
    public synchronized int reload() {
        int n = 0;
        for (Path file : files()) {
            try {
                if (!stamp(file).equals(fileStamps.get(file))) {
                    load(file);
                    n++;
                    log.info("access list {} reloaded: {}", file, fileLists.get(file));
                }
            } catch (IOException | IllegalArgumentException e) {
                reloadFailures.increment();
                // Remember the broken version so it is logged once, not at every check.
                try {
                    fileStamps.put(file, stamp(file));
                } catch (IOException ignored) {
                    fileStamps.put(file, "missing");
                }
                log.warn("access list {}; keeping the previous list", describe(file, e));
            }
        }
        if (n > 0) {
            snapshot = compile();
        }
        return n;
    }

    private void load(Path file) throws IOException {
        String stamp = stamp(file);
        AccessList parsed = AccessList.parseFile(file, Files.readAllLines(file, StandardCharsets.UTF_8));
        fileLists.put(file, parsed);
        fileStamps.put(file, stamp);
        reloads.increment();
    }

    private static String stamp(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return a.lastModifiedTime().toMillis() + "/" + a.size() + "/" + a.fileKey();
    }

    private static String describe(Path file, Exception e) {
        if (e instanceof NoSuchFileException) {
            return file + ": no such file";
        }
        return e instanceof IllegalArgumentException ? e.getMessage() : file + ": " + e;
    }

    private Set<Path> files() {
        var files = new LinkedHashSet<Path>();
        policy.global().file().ifPresent(files::add);
        policy.listeners().values().forEach(l -> l.file().ifPresent(files::add));
        policy.routes().values().forEach(l -> l.file().ifPresent(files::add));
        return files;
    }

    private Snapshot compile() {
        var listeners = new HashMap<String, Compiled>();
        policy.listeners().forEach((name, l) -> listeners.put(name, compile(l)));
        var routes = new HashMap<String, Compiled>();
        policy.routes().forEach((name, l) -> routes.put(name, compile(l)));
        return new Snapshot(compile(policy.global()), Map.copyOf(listeners), Map.copyOf(routes));
    }

    private Compiled compile(AccessList l) {
        return l.compile(l.file().map(fileLists::get).orElse(null));
    }

    /** Whether {@code address} may use listener {@code listener} (null: unknown) at all: global and listener lists. */
    public boolean permits(InetAddress address, String listener) {
        Snapshot s = snapshot;
        if (!s.global.permits(address)) {
            return false;
        }
        Compiled l = listener == null ? null : s.listeners.get(listener);
        return l == null || l.permits(address);
    }

    /**
     * Whether a connection from {@code peer} to listener {@code listener} may be accepted at all, for a check at
     * accept time (before TLS and HTTP): a trusted proxy is always accepted (its clients are judged per request, by
     * {@code X-Forwarded-For}); anyone else must pass the global and listener lists.
     */
    public boolean permitsConnection(InetAddress peer, String listener) {
        return (!trusted.isEmpty() && Cidr.anyContains(trusted, peer)) || permits(peer, listener);
    }

    /**
     * The guard that checks each listener's own list at accept, before TLS, HTTP or a TCP backend (http, https and tcp
     * listeners alike): a refused address costs one accept and one close, and is counted in
     * {@link AccessStats#deniedConnections()} and under reason {@code access_list}. Trusted proxies are let through
     * (their clients are judged per request, by {@code X-Forwarded-For}); the global and route lists stay per request
     * ({@code 403}). Add it with {@link dev.torii.Gateway.Builder#connectionGuard}.
     */
    public ConnectionGuard connectionGuard() {
        return new ConnectionGuard() {
            @Override
            public boolean admit(String listener, InetSocketAddress client) {
                Compiled l = snapshot.listeners.get(listener);
                InetAddress a = client.getAddress();
                if (l == null || a == null || l.permits(a) || (!trusted.isEmpty() && Cidr.anyContains(trusted, a))) {
                    return true;
                }
                deniedConnections.increment();
                deniedAtAccept.increment();
                log.debug("access denied at accept: {} on listener {}", a.getHostAddress(), listener);
                return false;
            }

            @Override
            public String reason() {
                return "access_list";
            }

            @Override
            public long refused() {
                return deniedAtAccept.sum();
            }
        };
    }

    /** Whether {@code address} may use route {@code route}: the route's list only. */
    public boolean permitsRoute(InetAddress address, String route) {
        Compiled r = snapshot.routes.get(route);
        return r == null || r.permits(address);
    }

    /**
     * The address lists are checked against: the TCP peer, or from a trusted proxy the right-most untrusted address of
     * {@code X-Forwarded-For} (the left-most when all are trusted); an entry that is not an IP literal ends the walk
     * at the last good one.
     */
    public InetAddress clientAddress(Exchange exchange) {
        InetAddress peer = exchange.clientAddress().getAddress();
        if (peer == null || trusted.isEmpty() || !Cidr.anyContains(trusted, peer)) {
            return peer;
        }
        List<String> values = exchange.request().headers().getAll("x-forwarded-for");
        InetAddress client = peer;
        for (int v = values.size() - 1; v >= 0; v--) {
            String[] hops = values.get(v).split(",");
            for (int i = hops.length - 1; i >= 0; i--) {
                InetAddress hop;
                try {
                    hop = InetAddress.ofLiteral(hops[i].strip());
                } catch (IllegalArgumentException e) {
                    return client;
                }
                client = hop;
                if (!Cidr.anyContains(trusted, hop)) {
                    return hop;
                }
            }
        }
        return client;
    }

    /**
     * How many {@code allow} (or {@code deny}) blocks the lists in use hold, the files' entries included: global,
     * listener and route lists summed. Reads the current snapshot; any thread.
     */
    public int entries(boolean allow) {
        Snapshot s = snapshot;
        int n = count(s.global, allow);
        for (Compiled c : s.listeners.values()) {
            n += count(c, allow);
        }
        for (Compiled c : s.routes.values()) {
            n += count(c, allow);
        }
        return n;
    }

    private static int count(Compiled c, boolean allow) {
        return allow ? c.allow().size() : c.deny().size();
    }

    /** The counters. */
    public AccessStats stats() {
        return new AccessStats(deniedRequests.sum(), deniedConnections.sum(), reloads.sum(), reloadFailures.sum());
    }

    /**
     * The hook that enforces the lists (see the class comment for the phases); refusals are rendered by
     * {@code responder} as {@link ProxyError#ACCESS_DENIED}. Add it as a global gateway hook, before plugins.
     */
    public Hook hook(ErrorResponder responder) {
        Objects.requireNonNull(responder, "responder");
        return new Hook() {
            @Override
            public String name() {
                return "access";
            }

            @Override
            public ConnectResult onConnect(Connection connection) {
                InetAddress a = connection.clientAddress().getAddress();
                if (a != null && !permits(a, connection.listener())) {
                    deniedConnections.increment();
                    log.debug("access denied: {} on listener {}", a.getHostAddress(), connection.listener());
                    return ConnectResult.reject();
                }
                return ConnectResult.proceed();
            }

            @Override
            public HookResult onRequest(Exchange exchange) {
                InetAddress a = clientAddress(exchange);
                if (a != null && !permits(a, exchange.listener())) {
                    return deny(responder, exchange, a);
                }
                return HookResult.proceed();
            }

            @Override
            public HookResult onUpstream(Exchange exchange) {
                if (snapshot.routes.isEmpty() || exchange.route() == null) {
                    return HookResult.proceed();
                }
                InetAddress a = clientAddress(exchange);
                if (a != null && !permitsRoute(a, exchange.route().name())) {
                    return deny(responder, exchange, a);
                }
                return HookResult.proceed();
            }
        };
    }

    private HookResult deny(ErrorResponder responder, Exchange exchange, InetAddress a) {
        deniedRequests.increment();
        if (log.isDebugEnabled()) {
            log.debug(
                    "access denied: {} for {}",
                    a.getHostAddress(),
                    exchange.request().uri());
        }
        return HookResult.respond(responder.render(ProxyError.ACCESS_DENIED, exchange));
    }

    /** Stops the file watcher. */
    @Override
    public synchronized void close() {
        closed = true;
        if (watcher != null) {
            watcher.shutdownNow();
            watcher = null;
        }
    }

    /** Builds an {@link AccessControl}. Not thread-safe. */
    public static final class Builder {
        private final AccessPolicy policy;
        private List<String> trustedProxies = List.of();

        private Builder(AccessPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
        }

        /**
         * Proxies whose {@code X-Forwarded-For} names the client (pass {@link dev.torii.Forwarding#trustedProxies()}).
         */
        public Builder trustedProxies(List<String> cidrs) {
            this.trustedProxies = List.copyOf(cidrs);
            Cidr.parseAll(trustedProxies);
            return this;
        }

        public AccessControl build() {
            return new AccessControl(this);
        }
    }
}
