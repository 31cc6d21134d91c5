package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.dns.DnsCache;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.RawClient;
import dev.torii.testing.RedisServer;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torii.dns.resolve} in {@code async} hooks, against a real unbound serving SRV, TXT and A records that point at
 * real backends: over an HTTP listener (in front of in-process upstreams) and a TCP listener (in front of
 * redis-server).
 */
class ScriptDnsTest {
    private static TestUpstream blue;
    private static TestUpstream green;
    private static RedisServer redis;
    private static SvcZone zone;
    private static String deadEndpoint;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws IOException {
        redis = RedisServer.start();
        zone = SvcZone.start((bluePort, greenPort, deadPort) -> List.of(
                "local-data: \"node-a.svc.test. 30 IN A 127.0.0.1\"",
                "local-data: \"node-b.svc.test. 30 IN A 127.0.0.1\"",
                "local-data: \"node-b.svc.test. 30 IN AAAA ::1\"",
                // The lowest priority wins: blue; green is the backup.
                "local-data: \"_http._tcp.web.svc.test. 30 IN SRV 5 10 " + bluePort + " node-a.svc.test.\"",
                "local-data: \"_http._tcp.web.svc.test. 30 IN SRV 10 10 " + greenPort + " node-b.svc.test.\"",
                "local-data: \"_redis._tcp.cache.svc.test. 30 IN SRV 0 0 "
                        + redis.address().getPort() + " node-b.svc.test.\"",
                "local-data: 'pool.svc.test. 30 IN TXT \"pool=\" \"blue\"'"));
        blue = zone.blue;
        green = zone.green;
        deadEndpoint = zone.deadEndpoint;
    }

    @AfterAll
    static void stop() {
        zone.close();
        redis.close();
    }

    private static DnsCache cache() {
        return zone.cache();
    }

    private static Gateway http(ScriptHook hook) {
        return http(hook, deadEndpoint);
    }

    private static Gateway http(ScriptHook hook, String endpoint) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(2)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app").endpoint(endpoint).build())
                        .route(Route.builder("all").upstream("app").hook(hook).build())
                        .build())
                .build()
                .start();
    }

    private static RawClient.RawResponse get(Gateway g, String path) {
        try (var c = new RawClient(g.address("web"))) {
            c.write("GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
            return c.readResponse();
        }
    }

    private static final String PICK_BY_SRV = """
            export async function onUpstream(ex, cfg) {
              const [pool] = await torii.dns.resolve("pool.svc.test", { type: "TXT" });
              const targets = await torii.dns.resolve("_http._tcp.web.svc.test", { type: "SRV" });
              const best = [...targets].sort((a, b) => a.priority - b.priority || b.weight - a.weight)[0];
              const [ip] = await torii.dns.resolve(best.target, { type: "A" });
              ex.request.headers.set("x-pool", pool);
              ex.request.headers.set("x-target", best.target + " " + best.priority + " " + best.weight);
              ex.useEndpoint(ip + ":" + best.port);
            }
            """;

    @Test
    void anAsyncUpstreamHookPicksTheEndpointFromSrvRecordsAndTagsTheRequestFromTxt() {
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder().quiet().dnsCache(dns).build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "srv", PICK_BY_SRV, null)), Map.of());
            try (Gateway g = http(hook)) {
                int before = blue.heads().size();
                // The first request misses the cache (each await resumes on the event loop later), the others hit.
                for (int i = 0; i < 3; i++) {
                    var r = get(g, "/srv/" + i);
                    assertThat(r.status()).as(r.bodyText()).isEqualTo(200);
                    assertThat(r.bodyText()).isEqualTo("GET /srv/" + i + "\n");
                }
                var heads = blue.heads().subList(before, blue.heads().size());
                assertThat(heads).hasSize(3).allSatisfy(h -> {
                    assertThat(h.header("x-pool")).isEqualTo("pool=blue");
                    assertThat(h.header("x-target")).isEqualTo("node-a.svc.test 5 10");
                });
                assertThat(green.heads()).noneSatisfy(h -> assertThat(h.uri()).startsWith("/srv/"));
                assertThat(dns.stats().hits()).isPositive();
            }
        }
    }

    @Test
    void aFailedResolveRejectsWithAnErrorTheHookCanAnswerWith() {
        String script = """
                export async function onRequest(ex, cfg) {
                  try {
                    await torii.dns.resolve(ex.request.path.substring(1), { type: ex.request.query ?? "A" });
                  } catch (e) {
                    return ex.respond(502, e.code + " | " + e.message + "\\n");
                  }
                  return ex.respond(200, "resolved\\n");
                }
                """;
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder().quiet().dnsCache(dns).build();
                var noCache = ScriptRuntime.builder().quiet().build()) {
            Path p = TestPlugins.write(dir, "fail", script, null);
            try (Gateway g = http(scripts.hook(scripts.loadPlugin(p), Map.of()));
                    Gateway without = http(noCache.hook(noCache.loadPlugin(p), Map.of()))) {
                var missing = get(g, "/missing.svc.test");
                assertThat(missing.status()).isEqualTo(502);
                assertThat(missing.bodyText())
                        .startsWith("NAME_NOT_FOUND | torii.dns.resolve(\"missing.svc.test\", A): NAME_NOT_FOUND:");
                // node-a has an A record but no AAAA: asking for AAAA alone is NO_DATA.
                var noData = get(g, "/node-a.svc.test?AAAA");
                assertThat(noData.bodyText()).startsWith("NO_DATA | torii.dns.resolve(\"node-a.svc.test\", AAAA)");
                assertThat(get(g, "/node-b.svc.test?AAAA").bodyText()).isEqualTo("resolved\n");
                // resolve() itself throws a TypeError (no code) for a type it does not know.
                assertThat(get(g, "/node-a.svc.test?MX").bodyText())
                        .isEqualTo("undefined | torii.dns.resolve type: MX (expected: A, AAAA, SRV or TXT)\n");
                var none = get(without, "/node-a.svc.test");
                assertThat(none.bodyText())
                        .startsWith("NO_CACHE | torii.dns.resolve(\"node-a.svc.test\", A): the"
                                + " gateway has no DNS cache");
            }
        }
    }

    @Test
    void anAsyncHookThatNeverSettlesFailsAtItsAwaitTimeoutAndTheNextExchangeIsServed() {
        String script = """
                export async function onRequest(ex, cfg) {
                  if (ex.request.path === "/hang") await new Promise(() => {});
                  if (ex.request.path === "/loop") {
                    await torii.dns.resolve("node-a.svc.test");
                    for (;;) {}
                  }
                  if (ex.request.path === "/throw") {
                    await torii.dns.resolve("node-b.svc.test");
                    throw new Error("after await");
                  }
                }
                """;
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder()
                        .quiet()
                        .dnsCache(dns)
                        .awaitTimeout(Duration.ofMillis(300))
                        .breaker(PluginBreaker.off())
                        .build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "hang", script, null)), Map.of());
            try (Gateway g = http(hook)) {
                assertThat(get(g, "/hang").status()).isEqualTo(500);
                assertThat(scripts.stats().timeouts()).isEqualTo(1);
                assertThat(get(g, "/loop").status()).isEqualTo(500);
                assertThat(scripts.stats().budgetsExceeded()).isEqualTo(1);
                assertThat(get(g, "/throw").status()).isEqualTo(500);
                // A hook that settles is then served as usual (by the dead upstream: 502, not a hook failure).
                assertThat(get(g, "/ok").status()).isEqualTo(502);
            }
        }
    }

    @Test
    void anAwaitingHookThatTimesOutTripsThePluginsBreaker() {
        String script = """
                export async function onRequest(ex, cfg) {
                  if (ex.request.path === "/hang") await new Promise(() => {});
                }
                """;
        try (var scripts = ScriptRuntime.builder()
                .quiet()
                .awaitTimeout(Duration.ofMillis(200))
                .breaker(new PluginBreaker(1, Duration.ofMinutes(1), Duration.ofMinutes(5), false))
                .build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "trip", script, null)), Map.of());
            try (Gateway g = http(hook, blue.endpoint())) {
                assertThat(get(g, "/ok").status()).isEqualTo(200);
                assertThat(get(g, "/hang").status()).isEqualTo(500);
                var open = get(g, "/ok");
                assertThat(open.status()).isEqualTo(503);
                assertThat(open.bodyText()).isEqualTo("503 plugin trip unavailable\n");
                assertThat(scripts.stats().breakerTrips()).isEqualTo(1);
            }
        }
    }

    @Test
    void torii_dns_resolveIsRefusedOutsideTheRequestUpstreamAndConnectPhases() {
        String script = """
                export function onResponse(ex, cfg) {
                  try {
                    torii.dns.resolve("node-a.svc.test");
                  } catch (e) {
                    ex.response.headers.set("x-error", e.message);
                  }
                }
                """;
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder().quiet().dnsCache(dns).build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "late", script, null)), Map.of());
            try (Gateway g = http(hook, blue.endpoint())) {
                assertThat(get(g, "/").header("x-error"))
                        .isEqualTo("torii.dns.resolve() may be called in phases CONNECT, REQUEST, UPSTREAM (now:"
                                + " RESPONSE)");
            }
        }
    }

    // ------------------------------------------------------------------ TCP listener

    @Test
    void anAsyncOnConnectHookSendsTheConnectionToTheSrvTargetInFrontOfRedis() throws IOException {
        String script = """
                export async function onConnect(conn, cfg) {
                  const [srv] = await torii.dns.resolve("_redis._tcp.cache.svc.test", { type: "SRV" });
                  const v6 = await torii.dns.resolve(srv.target, { type: "AAAA" });
                  const v4 = await torii.dns.resolve(srv.target, { type: "A" });
                  if (v6[0] !== "0:0:0:0:0:0:0:1") return conn.reject();
                  conn.useEndpoint(v4[0] + ":" + srv.port);
                }
                """;
        // A generous deadline per slice: the first onConnect runs in a cold JVM, which on a loaded machine has run past
        // the default 500 ms and closed the connection.
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder()
                        .quiet()
                        .timeout(Duration.ofSeconds(10))
                        .dnsCache(dns)
                        .build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "tcp", script, null)), Map.of());
            try (Gateway g = Gateway.builder()
                    .listener(TcpListener.builder("cache", "127.0.0.1:0", "down")
                            .hook(hook)
                            .build())
                    .routingTable(RoutingTable.builder()
                            .upstream(Upstream.builder("down")
                                    .endpoint(deadEndpoint)
                                    .build())
                            .build())
                    .ioThreads(2)
                    .build()
                    .start()) {
                assertThat(ping(g.address("cache"))).isEqualTo("+PONG\r\n"); // a miss: resumed later
                assertThat(ping(g.address("cache"))).isEqualTo("+PONG\r\n"); // a hit
            }
        }
    }

    @Test
    void anAsyncOnConnectHookThatFailsClosesTheConnection() throws IOException {
        String script = """
                export async function onConnect(conn, cfg) {
                  await torii.dns.resolve("nowhere.svc.test", { type: "SRV" });
                }
                """;
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder().quiet().dnsCache(dns).build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "tcpfail", script, null)), Map.of());
            try (Gateway g = Gateway.builder()
                    .listener(TcpListener.builder("cache", "127.0.0.1:0", "redis")
                            .hook(hook)
                            .build())
                    .routingTable(RoutingTable.builder()
                            .upstream(Upstream.builder("redis")
                                    .endpoint(redis.hostPort())
                                    .build())
                            .build())
                    .ioThreads(2)
                    .build()
                    .start()) {
                assertThat(ping(g.address("cache"))).isEmpty();
                assertThat(scripts.stats().failures()).isEqualTo(1);
            }
        }
    }

    /** PING over a fresh connection; the reply, or "" when the gateway closed the connection. */
    private static String ping(InetSocketAddress at) throws IOException {
        try (Socket s = new Socket(at.getAddress(), at.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            try {
                return new String(s.getInputStream().readNBytes(7), StandardCharsets.US_ASCII);
            } catch (SocketException reset) {
                return "";
            }
        }
    }
}
