package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hot reload: new versions swap in atomically, broken ones never do, and no exchange fails while it happens. */
class HotReloadTest {
    private static final long WAIT_SECONDS = 30;

    @TempDir
    Path dir;

    /** A plugin that tags requests and responses with {@code version}, and reads {@code cfg.tag}. */
    private static String versioned(String version) {
        return """
                const V = "%s";
                export function onRequest(ex, cfg) { ex.vars.requestVersion = V; }
                export function onResponse(ex, cfg) {
                  ex.response.headers.set("x-version", ex.vars.requestVersion + " " + V);
                  ex.response.headers.set("x-tag", cfg.tag);
                }
                """.formatted(version);
    }

    private static final String SCHEMA =
            "{ \"type\": \"object\", \"properties\": { \"tag\": { \"type\": \"string\", \"default\": \"none\" } } }";

    /** Replaces {@code plugin.js} in one step, as editors and deploy tools do, so a reader never sees half a file. */
    private static void replaceScript(Path plugin, String script) {
        try {
            Path tmp = Files.createTempFile(plugin.getParent(), "plugin", ".tmp");
            Files.writeString(tmp, script);
            Files.move(tmp, plugin.resolve("plugin.js"), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Gateway gateway(TestUpstream upstream, ScriptHook hook, int ioThreads) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(ioThreads)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").hook(hook).build())
                        .build())
                .build()
                .start();
    }

    private static RawClient.RawResponse get(Gateway g) {
        try (var c = new RawClient(g.address("web"))) {
            c.write("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
            return c.readResponse();
        }
    }

    @Test
    void reloadSwapsInTheNewVersionForNewExchanges() {
        Path p = TestPlugins.write(dir, "tagger", versioned("v1"), SCHEMA);
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE)) {
            var hook = scripts.hook(scripts.loadPlugin(p), Map.of("tag", "blue"));
            try (var g = gateway(upstream, hook, 1)) {
                assertThat(get(g).header("x-version")).isEqualTo("v1 v1");
                assertThat(scripts.reload().isEmpty()).isTrue(); // nothing changed yet

                replaceScript(p, versioned("v2"));
                var result = scripts.reload();

                assertThat(result.failures()).isEmpty();
                assertThat(result.reloaded()).singleElement().satisfies(pl -> assertThat(pl.script())
                        .contains("\"v2\""));
                assertThat(hook.plugin().script()).contains("\"v2\"");
                var r = get(g);
                assertThat(r.header("x-version")).isEqualTo("v2 v2");
                assertThat(r.header("x-tag")).isEqualTo("blue"); // the configuration carries over
            }
        }
    }

    @Test
    void aBrokenEditKeepsTheOldVersionAndReportsFileLineAndColumn() {
        Path p = TestPlugins.write(dir, "tagger", versioned("v1"), SCHEMA);
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE)) {
            var hook = scripts.hook(scripts.loadPlugin(p), Map.of());
            try (var g = gateway(upstream, hook, 1)) {
                replaceScript(p, "const V = \"v2\";\nexport function onRequest(ex { }\n");
                var result = scripts.reload();

                assertThat(result.reloaded()).isEmpty();
                assertThat(result.failures())
                        .singleElement()
                        .asString()
                        .startsWith(p.resolve("plugin.js") + ":2:")
                        .contains("SyntaxError");
                var r = get(g);
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.header("x-version")).isEqualTo("v1 v1");
                // Asked again, the runtime says again why the files on disk are not in use.
                assertThat(scripts.reload().failures()).hasSize(1);

                replaceScript(p, versioned("v3"));
                assertThat(scripts.reload().reloaded()).hasSize(1);
                assertThat(get(g).header("x-version")).isEqualTo("v3 v3");
            }
        }
    }

    @Test
    void aNewSchemaThatRejectsAnAttachedConfigKeepsTheOldVersion() {
        Path p = TestPlugins.write(dir, "tagger", versioned("v1"), SCHEMA);
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE)) {
            var hook = scripts.hook(scripts.loadPlugin(p), Map.of("tag", "blue"));
            try (var g = gateway(upstream, hook, 1)) {
                TestPlugins.write(
                        dir,
                        "tagger",
                        versioned("v2"),
                        "{ \"type\": \"object\", \"properties\": { \"tag\": { \"type\": \"integer\" } } }");
                var result = scripts.reload();

                assertThat(result.reloaded()).isEmpty();
                assertThat(result.failures())
                        .singleElement()
                        .asString()
                        .startsWith("plugin tagger config.tag: \"blue\" (expected: an integer)");
                assertThat(get(g).header("x-version")).isEqualTo("v1 v1");
                assertThat(hook.plugin().script()).contains("\"v1\"");
            }
        }
    }

    @Test
    void anExchangeInFlightFinishesOnTheVersionItStartedWith() throws Exception {
        Path p = TestPlugins.write(dir, "tagger", versioned("v1"), SCHEMA);
        BlockingQueue<TestUpstream.Responder> held = new LinkedBlockingQueue<>();
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start((req, res) -> held.add(res))) {
            var hook = scripts.hook(scripts.loadPlugin(p), Map.of());
            try (var g = gateway(upstream, hook, 1)) {
                var inFlight = CompletableFuture.supplyAsync(() -> get(g));
                var responder = held.poll(WAIT_SECONDS, TimeUnit.SECONDS); // onRequest of v1 has run
                assertThat(responder).isNotNull();

                replaceScript(p, versioned("v2"));
                assertThat(scripts.reload().reloaded()).hasSize(1);
                responder.respond(200, List.of(), "late\n");

                assertThat(inFlight.get(WAIT_SECONDS, TimeUnit.SECONDS).header("x-version"))
                        .isEqualTo("v1 v1");
                var next = CompletableFuture.supplyAsync(() -> get(g));
                held.poll(WAIT_SECONDS, TimeUnit.SECONDS).respond(200, List.of(), "fresh\n");
                assertThat(next.get(WAIT_SECONDS, TimeUnit.SECONDS).header("x-version"))
                        .isEqualTo("v2 v2");
            }
        }
    }

    @Test
    void noRequestFailsUnderLoadWhileThePluginIsReloadedRepeatedly() throws Exception {
        Path p = TestPlugins.write(dir, "tagger", versioned("v0"), SCHEMA);
        int clients = 4;
        int reloads = 6;
        var responses = new ConcurrentLinkedQueue<String>();
        var failures = new ConcurrentLinkedQueue<String>();
        var done = new AtomicBoolean();
        var completed = new Semaphore(0);
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE)) {
            var hook = scripts.hook(scripts.loadPlugin(p), Map.of());
            try (var g = gateway(upstream, hook, 2)) {
                var threads = new ArrayList<Thread>();
                var perThread = new ArrayList<List<Integer>>();
                for (int t = 0; t < clients; t++) {
                    var seen = new ArrayList<Integer>();
                    perThread.add(seen);
                    threads.add(Thread.ofPlatform().start(() -> {
                        while (!done.get()) {
                            try {
                                var r = get(g);
                                String v = r.header("x-version");
                                if (r.status() != 200 || v == null) {
                                    failures.add(r.status() + " " + v);
                                } else {
                                    responses.add(v);
                                    seen.add(Integer.parseInt(v.substring(v.lastIndexOf('v') + 1)));
                                }
                            } catch (RuntimeException | AssertionError e) {
                                failures.add(e.toString());
                            }
                            completed.release();
                        }
                    }));
                }
                for (int i = 1; i <= reloads; i++) {
                    awaitMore(completed, 25);
                    replaceScript(p, versioned("v" + i));
                    assertThat(scripts.reload().reloaded()).hasSize(1);
                }
                awaitMore(completed, 25);
                done.set(true);
                for (Thread t : threads) {
                    t.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
                }

                assertThat(failures).isEmpty();
                var allowed = new java.util.HashSet<String>();
                for (int i = 0; i <= reloads; i++) {
                    allowed.add("v" + i + " v" + i); // both phases of one exchange always run the same version
                }
                assertThat(Set.copyOf(responses)).isSubsetOf(allowed).contains("v0 v0", "v" + reloads + " v" + reloads);
                // A client never goes back to an older version once it has seen a newer one.
                for (List<Integer> seen : perThread) {
                    assertThat(seen).isSorted();
                }
            }
        }
    }

    /** Waits until the clients have finished {@code n} more requests (or fails after a generous deadline). */
    private static void awaitMore(Semaphore completed, int n) throws InterruptedException {
        assertThat(completed.tryAcquire(n, WAIT_SECONDS, TimeUnit.SECONDS))
                .as("clients stalled")
                .isTrue();
    }

    @Test
    void theWatcherReloadsChangedFilesInTheBackgroundAndLogsABrokenEditOnce() throws Exception {
        Path p = TestPlugins.write(dir, "tagger", versioned("v1"), SCHEMA);
        BlockingQueue<ReloadResult> results = new ArrayBlockingQueue<>(16);
        var watcherThreads = new ConcurrentLinkedQueue<String>();
        try (var scripts = ScriptRuntime.builder()
                        .watch(Duration.ofMillis(20))
                        .onReload(r -> {
                            watcherThreads.add(Thread.currentThread().getName());
                            results.add(r);
                        })
                        .build();
                var upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE)) {
            var hook = scripts.hook(scripts.loadPlugin(p), Map.of());
            try (var g = gateway(upstream, hook, 1)) {
                replaceScript(p, versioned("v2"));
                var first = results.poll(WAIT_SECONDS, TimeUnit.SECONDS);
                assertThat(first).isNotNull();
                assertThat(first.reloaded()).singleElement().satisfies(pl -> assertThat(pl.script())
                        .contains("\"v2\""));
                assertThat(get(g).header("x-version")).isEqualTo("v2 v2");

                replaceScript(p, "export function onRequest(ex) {\n  return ex.respond(200, \"x\"\n}\n");
                var broken = results.poll(WAIT_SECONDS, TimeUnit.SECONDS);
                assertThat(broken).isNotNull();
                assertThat(broken.failures()).singleElement().asString().startsWith(p.resolve("plugin.js") + ":");
                assertThat(get(g).header("x-version")).isEqualTo("v2 v2");

                replaceScript(p, versioned("v3"));
                var fixed = results.poll(WAIT_SECONDS, TimeUnit.SECONDS);
                assertThat(fixed).isNotNull();
                // The broken file was reported once, not on every poll in between.
                assertThat(fixed.failures()).isEmpty();
                assertThat(fixed.reloaded()).hasSize(1);
                assertThat(results).isEmpty();
                assertThat(get(g).header("x-version")).isEqualTo("v3 v3");
                assertThat(watcherThreads).containsOnly("torii-plugin-watcher");
            }
        }
    }

    @Test
    void closingTheRuntimeStopsTheWatcher() throws Exception {
        Path p = TestPlugins.write(dir, "tagger", versioned("v1"), SCHEMA);
        var scripts = ScriptRuntime.builder().watch(Duration.ofMillis(20)).build();
        scripts.hook(scripts.loadPlugin(p), Map.of());
        var watchers = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("torii-plugin-watcher"))
                .toList();
        assertThat(watchers).isNotEmpty();
        scripts.close();
        for (Thread watcher : watchers) {
            watcher.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
            assertThat(watcher.isAlive()).isFalse();
        }
        assertThat(scripts.reload().isEmpty()).isTrue();
    }
}
