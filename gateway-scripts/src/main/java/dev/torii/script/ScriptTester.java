package dev.torii.script;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.HookResult;
import dev.torii.LocalResponse;
import dev.torii.Phase;
import dev.torii.ProxyError;
import dev.torii.Request;
import dev.torii.Response;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.route.Route;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.Connection;
import dev.torii.upstream.Endpoint;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Runs a plugin's phase functions against in-memory exchanges, without a network: for plugin authors' unit tests.
 *
 * <pre>{@code
 * try (var t = ScriptTester.builder(Path.of("plugins/dos-guard")).config(Map.of("rate", 1, "burst", 1)).build()) {
 *     var ex = t.exchange("GET", "/").client("10.0.0.1");
 *     assertThat(t.onRequest(ex).proceeded()).isTrue();
 *     assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.1")).status()).isEqualTo(429);
 *     t.advance(Duration.ofSeconds(1));   // time is simulated: TTLs, rate limits and torii.now() follow it
 * }
 * }</pre>
 *
 * <p>Phases run as the engine runs them, with the same phase rules, budgets and sandbox. A phase function that fails
 * throws the {@link ScriptException} the engine would turn into HOOK_FAILED. Plugin log lines are collected in
 * {@link #logs()} instead of going to the log.
 *
 * <p><b>Async hooks.</b> An {@code async} phase function that awaits (say {@code torii.dns.resolve} of a name not
 * cached, with a cache given to {@link Builder#dnsCache}) returns a pending Promise. The tester then plays the event
 * loop: the test thread runs the continuations the awaited work hands back, one slice at a time, until the Promise
 * settles, and the phase method returns what it settled with, as the engine would resume the exchange. A Promise that
 * has not settled within {@link Builder#awaitTimeout} (real time, default 10 s) fails the call with an
 * {@link IllegalStateException}.
 *
 * <p>Not thread-safe: use it from one test thread.
 */
public final class ScriptTester implements AutoCloseable {
    private final ScriptRuntime runtime;
    private final ScriptHook hook;
    private final FakeClock clock;
    private final Set<String> upstreams;
    private final List<String> logs = Collections.synchronizedList(new ArrayList<>());
    private final MaintenanceMode maintenance = MaintenanceMode.builder().build();
    /** The event loop the tester plays for async hooks: continuations handed back from any thread, run by the test's. */
    private final BlockingQueue<Runnable> loop = new LinkedBlockingQueue<>();

    private final Duration awaitTimeout;

    private ScriptTester(Builder b) {
        this.clock = new FakeClock(b.start);
        this.upstreams = Set.copyOf(b.upstreams);
        this.awaitTimeout = b.awaitTimeout;
        var rb = ScriptRuntime.builder()
                .clock(clock)
                .timeout(b.timeout)
                .statementLimit(b.statementLimit)
                .maintenance(maintenance)
                .rateLimits(b.rateLimits)
                .logSink((spec, level, message) ->
                        logs.add(level + " " + spec.plugin().name() + ": " + message));
        if (b.dnsCache != null) {
            rb.dnsCache(b.dnsCache);
        }
        this.runtime = rb.build();
        try {
            this.hook = runtime.hook(runtime.loadPlugin(b.directory), b.config);
        } catch (RuntimeException e) {
            runtime.close();
            throw e;
        }
    }

    /** A tester for the plugin in {@code directory}; defaults: empty config, 2 s and 100,000-statement budgets. */
    public static Builder builder(Path directory) {
        return new Builder(directory);
    }

    /** A tester for the plugin in {@code directory} with {@code config}. */
    public static ScriptTester of(Path directory, Map<String, ?> config) {
        return builder(directory).config(config).build();
    }

    /** A new exchange for {@code method} and {@code uri} (e.g. {@code /a?b=1}) from 127.0.0.1, host localhost. */
    public TestExchange exchange(String method, String uri) {
        return new TestExchange(method, uri, this);
    }

    /**
     * A new TCP connection from {@code clientIp} (port 40000) accepted by listener {@code listener}
     * (127.0.0.1:6380) for {@code upstream}, for {@link #onConnect}.
     */
    public TestConnection connection(String clientIp, String listener, String upstream) {
        return new TestConnection(this, clientIp, listener, upstream);
    }

    /** Runs {@code onConnect} on {@code conn} (phase CONNECT); true when the plugin let it go on, false if rejected. */
    public boolean onConnect(TestConnection conn) {
        conn.choosing = true;
        try {
            ConnectResult r = hook.onConnect(conn);
            if (r instanceof ConnectResult.Later later) {
                r = await(later.stage(), "onConnect");
            }
            runPending();
            return r == ConnectResult.proceed();
        } finally {
            conn.choosing = false;
        }
    }

    /**
     * The maintenance switch the plugin sees as {@code torii.maintenance.enabled}: {@code maintenance().enable()}
     * turns it on.
     */
    public MaintenanceMode maintenance() {
        return maintenance;
    }

    /** Runs {@code onRequest} on {@code ex} (phase REQUEST). */
    public Outcome onRequest(TestExchange ex) {
        ex.phase = Phase.REQUEST;
        return outcome(hook.onRequest(ex), "onRequest");
    }

    /** Runs {@code onUpstream} on {@code ex} (phase UPSTREAM); routes it to the first upstream if no route was set. */
    public Outcome onUpstream(TestExchange ex) {
        if (ex.route == null) {
            ex.route("test", upstreams.isEmpty() ? "app" : upstreams.iterator().next());
        }
        ex.phase = Phase.UPSTREAM;
        return outcome(hook.onUpstream(ex), "onUpstream");
    }

    /** Runs {@code onResponse} on {@code ex} (phase RESPONSE); the response is 200 unless set with {@link TestExchange#response}. */
    public Outcome onResponse(TestExchange ex) {
        ex.phase = Phase.RESPONSE;
        return outcome(hook.onResponse(ex), "onResponse");
    }

    /** Runs {@code onLog} on {@code ex} (phase LOG). */
    public void onLog(TestExchange ex) {
        ex.phase = Phase.LOG;
        hook.onLog(ex);
    }

    private Outcome outcome(HookResult r, String function) {
        if (r instanceof HookResult.Later later) {
            r = await(later.stage(), function);
        }
        runPending();
        return Outcome.of(r);
    }

    /**
     * Plays the event loop until {@code stage} completes: runs each continuation as it is handed back, on this thread
     * (where the call's script context lives), waiting for the next one at most until the await deadline.
     */
    private <R> R await(CompletionStage<R> stage, String function) {
        CompletableFuture<R> f = stage.toCompletableFuture();
        long deadline = System.nanoTime() + awaitTimeout.toNanos();
        while (!f.isDone()) {
            long left = deadline - System.nanoTime();
            Runnable task;
            try {
                task = left <= 0 ? null : loop.poll(left, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(function + ": interrupted while its Promise was pending", e);
            }
            if (task == null) {
                throw new IllegalStateException(
                        function + ": its Promise did not settle within " + awaitTimeout + " (awaitTimeout)");
            }
            task.run();
        }
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause; // a ScriptException, as a synchronous call throws it
            }
            throw e;
        }
    }

    /** Runs the continuations already handed back (a call that settled during its first slice may leave some). */
    private void runPending() {
        for (Runnable task; (task = loop.poll()) != null; ) {
            task.run();
        }
    }

    /** Moves simulated time forward: TTLs of shared entries, rate-limit refills and {@code torii.now()} follow. */
    public void advance(Duration d) {
        clock.now = clock.now.plus(d);
    }

    /** The shared dictionary {@code zone}, to prepare or inspect what the plugin stores. */
    public SharedDict shared(String zone) {
        return runtime.shared(zone);
    }

    /** Lines the plugin logged, as {@code LEVEL NAME: MESSAGE}. */
    public List<String> logs() {
        return List.copyOf(logs);
    }

    /** The hook under test (its config has the defaults applied). */
    public ScriptHook hook() {
        return hook;
    }

    /** The runtime behind the tester, e.g. for {@link ScriptRuntime#stats()}. */
    public ScriptRuntime runtime() {
        return runtime;
    }

    @Override
    public void close() {
        runtime.close();
    }

    /** Builds a {@link ScriptTester}. Not thread-safe. */
    public static final class Builder {
        private final Path directory;
        private Map<String, ?> config = Map.of();
        private final Set<String> upstreams = new LinkedHashSet<>();
        private Duration timeout = Duration.ofSeconds(2);
        private long statementLimit = 100_000;
        private Instant start = Instant.parse("2030-01-01T00:00:00Z");
        private dev.torii.ratelimit.RateLimits rateLimits = dev.torii.ratelimit.RateLimits.empty();
        private dev.torii.dns.DnsCache dnsCache;
        private Duration awaitTimeout = Duration.ofSeconds(10);

        private Builder(Path directory) {
            this.directory = Objects.requireNonNull(directory, "directory");
        }

        /** The plugin's config (validated against its schema when built). */
        public Builder config(Map<String, ?> config) {
            this.config = Objects.requireNonNull(config, "config");
            return this;
        }

        /** Upstream names {@code ex.useUpstream} accepts; without any, every name is accepted. */
        public Builder upstreams(String... names) {
            upstreams.addAll(List.of(names));
            return this;
        }

        /** The per-call deadline (default 2 s: generous, because tests run in a cold JVM). */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** The per-call statement limit (default 100,000). */
        public Builder statementLimit(long statementLimit) {
            this.statementLimit = statementLimit;
            return this;
        }

        /** Where simulated time starts (default 2030-01-01T00:00:00Z). */
        public Builder start(Instant start) {
            this.start = Objects.requireNonNull(start, "start");
            return this;
        }

        /** The named policies {@code ex.limit(key, "name")} uses (default none); they keep their own clock. */
        public Builder rateLimits(dev.torii.ratelimit.RateLimits rateLimits) {
            this.rateLimits = Objects.requireNonNull(rateLimits, "rateLimits");
            return this;
        }

        /**
         * The DNS cache {@code torii.dns.resolve} looks names up in (default none: it rejects with {@code NO_CACHE}).
         * The tester does not close it.
         */
        public Builder dnsCache(dev.torii.dns.DnsCache dnsCache) {
            this.dnsCache = Objects.requireNonNull(dnsCache, "dnsCache");
            return this;
        }

        /**
         * How long a phase method waits, in real time, for the Promise of an {@code async} phase function to settle
         * (default 10 s; it is real work such as a DNS lookup that it waits for, not simulated time).
         */
        public Builder awaitTimeout(Duration awaitTimeout) {
            this.awaitTimeout = Objects.requireNonNull(awaitTimeout, "awaitTimeout");
            return this;
        }

        /** Loads the plugin and attaches it with the config. */
        public ScriptTester build() {
            return new ScriptTester(this);
        }
    }

    /**
     * What a phase function decided. Immutable.
     *
     * @param response the response it answered with, or {@code null} when it let the exchange go on
     */
    public record Outcome(LocalResponse response) {
        static Outcome of(HookResult r) {
            return switch (r) {
                case HookResult.Respond respond -> new Outcome(respond.response());
                case HookResult.Proceed p -> new Outcome(null);
                case HookResult.Later later ->
                    throw new IllegalStateException("a pending HookResult.later (expected: settled by the tester)");
            };
        }

        /** Whether the exchange goes on (the function returned nothing). */
        public boolean proceeded() {
            return response == null;
        }

        /** The status answered, or 0 when the exchange goes on. */
        public int status() {
            return response == null ? 0 : response.status();
        }

        /** The body answered as UTF-8 text, or {@code null}. */
        public String body() {
            return response == null ? null : new String(response.body(), StandardCharsets.UTF_8);
        }

        /** The first value of header {@code name} in the answer, or {@code null}. */
        public String header(String name) {
            if (response == null) {
                return null;
            }
            return response.headers().stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(Map.Entry::getValue)
                    .findFirst()
                    .orElse(null);
        }
    }

    /**
     * An in-memory {@link Exchange}: set it up with the fluent methods, run phases through the tester, then read what
     * the plugin changed. Not thread-safe.
     */
    public static final class TestExchange implements Exchange {
        private final ScriptTester tester;
        private final String method;
        private String path;
        private String query;
        private String host = "localhost";
        private final TestHeaders requestHeaders = new TestHeaders();
        private InetSocketAddress client = new InetSocketAddress("127.0.0.1", 40000);
        private boolean secure;
        private Route route;
        private String upstream;
        private Endpoint endpoint;
        private int status = 200;
        private final TestHeaders responseHeaders = new TestHeaders();
        private final Map<AttributeKey<?>, Object> attributes = new IdentityHashMap<>();
        Phase phase = Phase.REQUEST;

        TestExchange(String method, String uri, ScriptTester tester) {
            this.tester = tester;
            this.method = Objects.requireNonNull(method, "method");
            int q = uri.indexOf('?');
            this.path = q < 0 ? uri : uri.substring(0, q);
            this.query = q < 0 ? null : uri.substring(q + 1);
            requestHeaders.set("host", host);
        }

        /** Adds a request header. */
        public TestExchange header(String name, String value) {
            requestHeaders.add(name, value);
            return this;
        }

        /** The client's IP address (port 40000). */
        public TestExchange client(String ip) {
            this.client = new InetSocketAddress(ip, 40000);
            return this;
        }

        /** The requested host (also sets the Host header). */
        public TestExchange host(String host) {
            this.host = host;
            requestHeaders.set("host", host);
            return this;
        }

        /** Whether the client connection is TLS. */
        public TestExchange secure(boolean secure) {
            this.secure = secure;
            return this;
        }

        /** The route that matched and its upstream (as the engine sets them before UPSTREAM). */
        public TestExchange route(String name, String upstream) {
            this.route = Route.builder(name).upstream(upstream).build();
            this.upstream = upstream;
            return this;
        }

        /** The response status RESPONSE and LOG see (default 200). */
        public TestExchange response(int status) {
            this.status = status;
            return this;
        }

        /** Adds a response header RESPONSE and LOG see. */
        public TestExchange responseHeader(String name, String value) {
            responseHeaders.add(name, value);
            return this;
        }

        /** The endpoint chosen with {@code ex.useEndpoint}, or {@code null}. */
        public Endpoint endpoint() {
            return endpoint;
        }

        /** The request headers as the plugin left them. */
        public dev.torii.Headers requestHeaders() {
            return requestHeaders;
        }

        /** The response headers as the plugin left them. */
        public dev.torii.Headers responseHeaders() {
            return responseHeaders;
        }

        /** The response status as the plugin left it. */
        public int responseStatus() {
            return status;
        }

        @Override
        public Phase phase() {
            return phase;
        }

        @Override
        public Request request() {
            return new Request() {
                @Override
                public String method() {
                    return method;
                }

                @Override
                public String uri() {
                    return query == null ? path : path + "?" + query;
                }

                @Override
                public String path() {
                    return path;
                }

                @Override
                public String query() {
                    return query;
                }

                @Override
                public String host() {
                    return host;
                }

                @Override
                public String protocol() {
                    return "HTTP/1.1";
                }

                @Override
                public dev.torii.Headers headers() {
                    return requestHeaders;
                }

                @Override
                public void setPath(String p) {
                    path = p;
                }

                @Override
                public void setQuery(String q) {
                    query = q;
                }
            };
        }

        @Override
        public Response response() {
            if (phase != Phase.RESPONSE && phase != Phase.LOG) {
                throw new IllegalStateException(
                        "response() may be called in phases RESPONSE, LOG (now: " + phase + ")");
            }
            return new Response() {
                @Override
                public int status() {
                    return status;
                }

                @Override
                public void setStatus(int s) {
                    status = s;
                }

                @Override
                public dev.torii.Headers headers() {
                    return responseHeaders;
                }
            };
        }

        @Override
        public InetSocketAddress clientAddress() {
            return client;
        }

        @Override
        public boolean secure() {
            return secure;
        }

        @Override
        public Route route() {
            return route;
        }

        @Override
        public String upstream() {
            return upstream;
        }

        @Override
        public void useUpstream(String name) {
            if (!tester.upstreams.isEmpty() && !tester.upstreams.contains(name)) {
                throw new IllegalArgumentException(
                        "useUpstream: '" + name + "' (expected one of: " + String.join(", ", tester.upstreams) + ")");
            }
            upstream = name;
            endpoint = null;
        }

        @Override
        public void useEndpoint(Endpoint e) {
            endpoint = Objects.requireNonNull(e, "endpoint");
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T> T get(AttributeKey<T> key) {
            return (T) attributes.get(key);
        }

        @Override
        public <T> void set(AttributeKey<T> key, T value) {
            if (value == null) {
                attributes.remove(key);
            } else {
                attributes.put(key, value);
            }
        }

        @Override
        public ExchangeLog log() {
            if (phase != Phase.LOG) {
                throw new IllegalStateException("log() may be called in phase LOG (now: " + phase + ")");
            }
            return new ExchangeLog(
                    tester.clock.millis(),
                    client,
                    "HTTP/1.1",
                    method,
                    request().uri(),
                    host,
                    route == null ? null : route.name(),
                    upstream,
                    null,
                    status,
                    status >= 500 && upstream == null ? ProxyError.NO_ROUTE : null,
                    0,
                    0,
                    -1,
                    -1,
                    1_000_000,
                    upstream == null ? 0 : 1);
        }

        @Override
        public Executor executor() {
            return tester.loop::add;
        }
    }

    /** Case-insensitive header fields in order. */
    private static final class TestHeaders implements dev.torii.Headers {
        private final List<Map.Entry<String, String>> fields = new ArrayList<>();

        @Override
        public String get(String name) {
            for (var e : fields) {
                if (e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue();
                }
            }
            return null;
        }

        @Override
        public List<String> getAll(String name) {
            return fields.stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(Map.Entry::getValue)
                    .toList();
        }

        @Override
        public boolean contains(String name) {
            return get(name) != null;
        }

        @Override
        public dev.torii.Headers set(String name, String value) {
            remove(name);
            return add(name, value);
        }

        @Override
        public dev.torii.Headers add(String name, String value) {
            fields.add(Map.entry(name.toLowerCase(Locale.ROOT), value));
            return this;
        }

        @Override
        public boolean remove(String name) {
            return fields.removeIf(e -> e.getKey().equalsIgnoreCase(name));
        }

        @Override
        public Set<String> names() {
            var s = new LinkedHashSet<String>();
            fields.forEach(e -> s.add(e.getKey()));
            return s;
        }

        @Override
        public int size() {
            return fields.size();
        }
    }

    private static final class FakeClock implements InstantSource {
        volatile Instant now;

        FakeClock(Instant start) {
            this.now = start;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    /**
     * An in-memory TCP connection for {@link #onConnect}: the plugin's backend choice is readable afterwards with
     * {@link #upstream()} and {@link #endpoint()}. Not thread-safe.
     */
    public static final class TestConnection implements Connection {
        private final ScriptTester tester;
        private final String listener;
        private final InetSocketAddress client;
        private String upstream;
        private Endpoint endpoint;
        private String sni;
        private final Map<AttributeKey<?>, Object> attributes = new IdentityHashMap<>();
        boolean choosing;

        TestConnection(ScriptTester tester, String clientIp, String listener, String upstream) {
            this.tester = tester;
            this.client = new InetSocketAddress(clientIp, 40000);
            this.listener = Objects.requireNonNull(listener, "listener");
            this.upstream = Objects.requireNonNull(upstream, "upstream");
        }

        @Override
        public String listener() {
            return listener;
        }

        @Override
        public InetSocketAddress clientAddress() {
            return client;
        }

        @Override
        public InetSocketAddress localAddress() {
            return new InetSocketAddress("127.0.0.1", 6380);
        }

        @Override
        public String upstream() {
            return upstream;
        }

        @Override
        public Endpoint endpoint() {
            return endpoint;
        }

        /** Sets the TLS server name the connection reports in {@link #sni()} (default {@code null}); returns this. */
        public TestConnection sni(String serverName) {
            this.sni = serverName;
            return this;
        }

        @Override
        public String sni() {
            return sni;
        }

        @Override
        public void useUpstream(String name) {
            if (!choosing) {
                throw new IllegalStateException("useUpstream(): the backend of this connection is chosen already");
            }
            if (!tester.upstreams.isEmpty() && !tester.upstreams.contains(name)) {
                throw new IllegalArgumentException(
                        "useUpstream: '" + name + "' (expected one of: " + String.join(", ", tester.upstreams) + ")");
            }
            upstream = name;
            endpoint = null;
        }

        @Override
        public void useEndpoint(Endpoint e) {
            if (!choosing) {
                throw new IllegalStateException("useEndpoint(): the backend of this connection is chosen already");
            }
            endpoint = Objects.requireNonNull(e, "endpoint");
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T> T get(AttributeKey<T> key) {
            return (T) attributes.get(key);
        }

        @Override
        public <T> void set(AttributeKey<T> key, T value) {
            if (value == null) {
                attributes.remove(key);
            } else {
                attributes.put(key, value);
            }
        }

        @Override
        public Executor executor() {
            return tester.loop::add;
        }
    }
}
