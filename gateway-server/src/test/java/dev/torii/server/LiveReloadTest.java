package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.server.demo.EchoService;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sections a configuration reload applies besides routes, upstreams and http listeners: global plugins and their
 * settings, rate-limit policies and the top-level {@code rateLimit}, and the access lists. Each test edits the file of
 * a running server, calls {@link ToriiServer#reload()} and checks what a client sees.
 */
class LiveReloadTest {
    private static final String BASE = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            routes:
              - name: a
                match: { pathPrefix: /a }
                upstream: demo
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            """;

    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @Test
    void aReloadSwapsGlobalPluginsAndTheirConfigInTheServingEngineAndABrokenPluginKeepsTheOldOnes(@TempDir Path dir)
            throws Exception {
        plugin(dir, "tag", "if (ex.request.path === \"/p\") return ex.respond(200, \"tag \" + cfg.v);");
        plugin(dir, "teapot", "if (ex.request.path === \"/p\") return ex.respond(418, \"teapot\");");
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, base + plugins("[ { name: tag, config: { v: one } } ]"));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                var engine = server.scripts().orElseThrow();
                assertThat(body(port, "/p")).isEqualTo("200 tag one");

                Files.writeString(file, base + plugins("[ { name: tag, config: { v: two } } ]"));
                ConfigReloadResult changed = server.reload();
                assertThat(changed.applied()).isTrue();
                assertThat(changed.notApplied()).isEmpty();
                assertThat(body(port, "/p")).isEqualTo("200 tag two");

                Files.writeString(file, base + plugins("[ { name: teapot }, { name: tag, config: { v: three } } ]"));
                assertThat(server.reload().applied()).isTrue();
                assertThat(body(port, "/p"))
                        .as("a global plugin added before the other answers first")
                        .isEqualTo("418 teapot");

                // A plugin that does not compile refuses the whole reload (the route added with it too).
                plugin(dir, "broken", "return ex.respond(200, ;");
                Files.writeString(
                        file,
                        base.replace(
                                        "upstreams:",
                                        "  - { name: c, match: { pathPrefix: /c }, upstream: demo }\nupstreams:")
                                + plugins("[ { name: broken } ]"));
                ConfigReloadResult refused = server.reload();
                assertThat(refused.applied()).isFalse();
                assertThat(refused.errors()).anySatisfy(e -> assertThat(e).contains("broken"));
                assertThat(body(port, "/p")).isEqualTo("418 teapot");
                assertThat(status(port, "/c"))
                        .as("the route of the refused file")
                        .isEqualTo(404);

                Files.writeString(file, base + plugins("[]"));
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/p"))
                        .as("no global plugin left: no route matches")
                        .isEqualTo(404);
                assertThat(status(port, "/a")).isEqualTo(200);
                assertThat(server.scripts()).containsSame(engine);
            }
        }
    }

    @Test
    void aReloadAppliesRateLimitPoliciesAndTheGlobalRateLimitKeepingTheBucketsOfUnchangedPolicies(@TempDir Path dir)
            throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            String one = "rateLimits:\n  one: { rate: 1, per: 1h, burst: 1 }\n";
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, base + one);
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(status(port, "/a")).isEqualTo(200);
                assertThat(status(port, "/a")).isEqualTo(200);

                Files.writeString(file, base + one + "rateLimit: one\n");
                ConfigReloadResult attached = server.reload();
                assertThat(attached.applied()).isTrue();
                assertThat(attached.notApplied()).isEmpty();
                assertThat(status(port, "/a")).isEqualTo(200);
                assertThat(status(port, "/a")).as("the one token is spent").isEqualTo(429);

                // Another policy added, 'one' unchanged: its bucket (spent) is kept.
                Files.writeString(file, base + one + "  two: { rate: 5 }\nrateLimit: [ two, one ]\n");
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/a")).isEqualTo(429);
                assertThat(server.rateLimits().get("two")).isNotNull();

                // An unknown policy refuses the reload; the running limits stay.
                Files.writeString(file, base + one + "rateLimit: [ nope ]\n");
                assertThat(server.reload().applied()).isFalse();
                assertThat(status(port, "/a")).isEqualTo(429);

                // 'one' changed: a new bucket, full.
                Files.writeString(file, base + "rateLimits:\n  one: { rate: 1, per: 1h, burst: 2 }\nrateLimit: one\n");
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/a")).isEqualTo(200);
                assertThat(status(port, "/a")).isEqualTo(200);
                assertThat(status(port, "/a")).isEqualTo(429);

                Files.writeString(file, base);
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/a")).as("no global limit any more").isEqualTo(200);
            }
        }
    }

    @Test
    void aReloadAppliesAccessListsPerRequestAndAtAcceptAndABrokenListFileRefusesTheWholeReload(@TempDir Path dir)
            throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, base);
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(status(port, "/a")).isEqualTo(200);

                Files.writeString(file, base + "access: { deny: [ 127.0.0.1 ] }\n");
                ConfigReloadResult denied = server.reload();
                assertThat(denied.applied()).isTrue();
                assertThat(denied.notApplied()).isEmpty();
                assertThat(status(port, "/a")).isEqualTo(403);

                Files.writeString(file, base + "access: { listeners: { web: { deny: [ 127.0.0.0/8 ] } } }\n");
                assertThat(server.reload().applied()).isTrue();
                assertThat(statusOnNewConnection(port, "/a"))
                        .as("closed at accept")
                        .isEqualTo(-1);

                Files.writeString(dir.resolve("lists.txt"), "deny 127.0.0.1\nthis is not a rule\n");
                Files.writeString(
                        file, base.replace("pathPrefix: /a }", "pathPrefix: / }") + "access: { file: lists.txt }\n");
                ConfigReloadResult refused = server.reload();
                assertThat(refused.applied()).isFalse();
                assertThat(refused.errors()).anySatisfy(e -> assertThat(e).contains("lists.txt"));
                assertThat(statusOnNewConnection(port, "/a"))
                        .as("the running lists stay")
                        .isEqualTo(-1);

                Files.writeString(file, base);
                assertThat(server.reload().applied()).isTrue();
                assertThat(statusOnNewConnection(port, "/a")).isEqualTo(200);
            }
        }
    }

    @Test
    void aReloadStartsMovesAndKeepsTheAccessLog(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = dir.resolve("torii.yaml");
            Path first = dir.resolve("first.log");
            Path second = dir.resolve("second.log");
            Files.writeString(file, base);
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(status(port, "/a?n=0")).isEqualTo(200);

                Files.writeString(file, base + "accessLog: { format: json, path: first.log }\n");
                ConfigReloadResult started = server.reload();
                assertThat(started.applied()).isTrue();
                assertThat(started.notApplied()).isEmpty();
                assertThat(status(port, "/a?n=1")).isEqualTo(200);
                awaitLine(first, "n=1");

                // Another section changes: the running access log stays in place.
                Files.writeString(
                        file,
                        base.replace(
                                        "upstreams:",
                                        "  - { name: c, match: { pathPrefix: /c }, upstream: demo }\nupstreams:")
                                + "accessLog: { format: json, path: first.log }\n");
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/c?n=2")).isEqualTo(200);
                awaitLine(first, "n=2");

                Files.writeString(file, base + "accessLog: { format: json, path: second.log }\n");
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/a?n=3")).isEqualTo(200);
                awaitLine(second, "n=3");
                assertThat(Files.readString(first)).doesNotContain("n=3").doesNotContain("n=0");
            }
        }
    }

    @Test
    void aReloadAppliesLimitsToTheNextRequestAndConnectionKeepingTheCountsOfOpenConnections(@TempDir Path dir)
            throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, base);
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(post(port, "/a", 100)).isEqualTo(200);

                Files.writeString(file, base + "limits: { maxRequestBodySize: 10 }\n");
                ConfigReloadResult smaller = server.reload();
                assertThat(smaller.applied()).isTrue();
                assertThat(smaller.notApplied()).isEmpty();
                assertThat(post(port, "/a", 100)).isEqualTo(413);
                assertThat(post(port, "/a", 5)).isEqualTo(200);

                Files.writeString(file, base + "limits: { maxRequestBodySize: 1000, maxConnectionsPerClient: 7 }\n");
                ConfigReloadResult perClient = server.reload();
                assertThat(perClient.applied()).isTrue();
                assertThat(perClient.notApplied()).isEmpty();
                assertThat(server.gateway().limits().maxConnectionsPerClient()).isEqualTo(7);
                try (java.net.Socket one = new java.net.Socket("127.0.0.1", port);
                        java.net.Socket two = new java.net.Socket("127.0.0.1", port)) {
                    one.setSoTimeout(10_000);
                    two.setSoTimeout(10_000);
                    // Accepted and answered (ListenerReloadTest.exchange asks for /, which no route matches).
                    assertThat(ListenerReloadTest.exchange(one)).isEqualTo("404 keep-alive");
                    assertThat(ListenerReloadTest.exchange(two)).isEqualTo("404 keep-alive");
                    assertThat(statusOnNewConnection(port, "/a")).as("3 of 7").isEqualTo(200);

                    Files.writeString(
                            file, base + "limits: { maxRequestBodySize: 1000, maxConnectionsPerClient: 2 }\n");
                    assertThat(server.reload().applied()).isTrue();
                    assertThat(statusOnNewConnection(port, "/a"))
                            .as("a third connection: the two open before the reload still count")
                            .isEqualTo(-1);
                    assertThat(ListenerReloadTest.exchange(one)).isEqualTo("404 keep-alive");
                }
            }
        }
    }

    @Test
    void aReloadAppliesMaintenanceSettingsAndDoesNotUndoWhatTheAdminApiSwitched(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, base + "maintenance: { enabled: false, retryAfter: 10s }\n");
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(status(port, "/a")).isEqualTo(200);

                Files.writeString(file, base + "maintenance: { enabled: true, retryAfter: 42s }\n");
                ConfigReloadResult on = server.reload();
                assertThat(on.applied()).isTrue();
                assertThat(on.notApplied()).isEmpty();
                HttpResponse<Void> closed = client.send(request(port, "/a"), HttpResponse.BodyHandlers.discarding());
                assertThat(closed.statusCode()).isEqualTo(503);
                assertThat(closed.headers().firstValue("retry-after")).hasValue("42");

                // Switched off through the admin API; a reload that changes only the page settings keeps it off.
                server.maintenance().disable(dev.torii.maintenance.MaintenanceSource.ADMIN);
                Files.writeString(file, base + "maintenance: { enabled: true, retryAfter: 43s }\n");
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/a")).isEqualTo(200);
                assertThat(server.maintenance().retryAfter()).hasSeconds(43);

                Files.writeString(file, base + "maintenance: { enabled: false, retryAfter: 43s, routes: [ a ] }\n");
                assertThat(server.reload().applied()).isTrue();
                assertThat(status(port, "/a"))
                        .as("route a put in maintenance by the file")
                        .isEqualTo(503);
            }
        }
    }

    @Test
    void aReloadMovesTheAdminApiEvenWhenAskedThroughIt(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            int adminPort = freePort();
            int movedPort = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, base + "admin: { address: \"127.0.0.1:%d\" }\n".formatted(adminPort));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(status(adminPort, "/healthz")).isEqualTo(200);

                Files.writeString(file, base + "admin: { address: \"127.0.0.1:%d\" }\n".formatted(movedPort));
                HttpResponse<String> moved = client.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/reload"))
                                .POST(HttpRequest.BodyPublishers.noBody())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(moved.statusCode()).isEqualTo(200);
                assertThat(moved.body()).contains("\"applied\":true").contains("\"changedButNeedRestart\":[]");
                assertThat(statusOnNewConnection(movedPort, "/healthz")).isEqualTo(200);
                ConfigReloadTest.awaitRefused(adminPort);

                // An address in use refuses the whole reload; the admin API stays where it is.
                try (ServerSocket taken = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
                    Files.writeString(
                            file,
                            base.replace("pathPrefix: /a", "pathPrefix: /z")
                                    + "admin: { address: \"127.0.0.1:%d\" }\n".formatted(taken.getLocalPort()));
                    assertThat(server.reload().applied()).isFalse();
                }
                assertThat(statusOnNewConnection(movedPort, "/healthz")).isEqualTo(200);
                assertThat(status(port, "/a")).isEqualTo(200);
            }
        }
    }

    /** Polls (bounded: 100 tries, 50 ms apart) until {@code log} has a line containing {@code text}. */
    private static void awaitLine(Path log, String text) throws Exception {
        for (int i = 0; i < 100; i++) {
            if (Files.exists(log) && Files.readString(log).contains(text)) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError(
                log + " has no line with " + text + ": " + (Files.exists(log) ? Files.readString(log) : "(no file)"));
    }

    private static String plugins(String global) {
        return "plugins:\n  watch: false\n  global: " + global + "\n";
    }

    private static void plugin(Path dir, String name, String onRequest) throws IOException {
        Path p = Files.createDirectories(dir.resolve("plugins").resolve(name));
        Files.writeString(
                p.resolve("plugin.json"),
                "{ \"name\": \"" + name + "\", \"version\": \"1.0.0\",\n"
                        + "  \"config\": { \"type\": \"object\", \"properties\": { \"v\": { \"type\": \"string\" } } } }\n");
        Files.writeString(p.resolve("plugin.js"), "export function onRequest(ex, cfg) {\n  " + onRequest + "\n}\n");
    }

    private String body(int port, String path) throws Exception {
        HttpResponse<String> r = client.send(request(port, path), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    private int post(int port, String path, int bodySize) throws Exception {
        return client.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                .timeout(Duration.ofSeconds(10))
                                .POST(HttpRequest.BodyPublishers.ofString("x".repeat(bodySize)))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private int status(int port, String path) throws Exception {
        return client.send(request(port, path), HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    /** The status on a connection of its own (-1 when the gateway closes it before answering). */
    private static int statusOnNewConnection(int port, String path) throws Exception {
        HttpClient fresh = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        try {
            return fresh.send(request(port, path), HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException closed) {
            return -1;
        } finally {
            fresh.close();
        }
    }

    private static HttpRequest request(int port, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10))
                .build();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
