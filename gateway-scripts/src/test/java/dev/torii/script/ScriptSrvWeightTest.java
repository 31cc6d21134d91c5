package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.dns.DnsCache;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A script that picks its endpoint among real unbound SRV records by priority and weight (RFC 2782), over an HTTP and a
 * TCP listener. The records: at the best priority, weight 80 (blue), weight 20 (green) and weight 0 (a dead port); at
 * a worse priority, weight 100 (another dead port). Over {@value #PICKS} picks the bounds asserted hold but for a chance
 * below 1e-9: green is picked at least once (it misses all with probability 0.8^100), blue more than half the time
 * (binomial, 30 below its mean of 80 is 7.5 standard deviations), and never a dead port (the weight-0 record is never
 * drawn while its priority has weight, the worse priority never while the best answers), so every request is served.
 */
class ScriptSrvWeightTest {
    private static final int PICKS = 100;
    /** Each slice's deadline: generous, the first calls run in a cold JVM on a shared machine. */
    private static final Duration SLICE = Duration.ofSeconds(10);

    private static TestUpstream blue;
    private static TestUpstream green;
    private static SvcZone zone;
    private static String deadEndpoint;

    @TempDir
    Path dir;

    /** RFC 2782's weighted choice within the lowest priority; weight 0 only when the whole group weighs nothing. */
    private static final String PICK = """
            function pickSrv(targets) {
              const best = Math.min(...targets.map(t => t.priority));
              const group = targets.filter(t => t.priority === best);
              const total = group.reduce((sum, t) => sum + t.weight, 0);
              if (total === 0) return group[Math.floor(Math.random() * group.length)];
              let r = Math.random() * total;
              for (const t of group) {
                if (t.weight > 0 && (r -= t.weight) < 0) return t;
              }
              return group.filter(t => t.weight > 0).pop();
            }
            """;

    @BeforeAll
    static void start() throws IOException {
        zone = SvcZone.start((bluePort, greenPort, dead) -> List.of(
                "local-data: \"node.svc.test. 300 IN A 127.0.0.1\"",
                "local-data: \"_http._tcp.web.svc.test. 300 IN SRV 1 80 " + bluePort + " node.svc.test.\"",
                "local-data: \"_http._tcp.web.svc.test. 300 IN SRV 1 20 " + greenPort + " node.svc.test.\"",
                "local-data: \"_http._tcp.web.svc.test. 300 IN SRV 1 0 " + dead + " node.svc.test.\"",
                "local-data: \"_http._tcp.web.svc.test. 300 IN SRV 2 100 " + dead + " node.svc.test.\""));
        blue = zone.blue;
        green = zone.green;
        deadEndpoint = zone.deadEndpoint;
    }

    @AfterAll
    static void stop() {
        zone.close();
    }

    @Test
    void anUpstreamHookSpreadsRequestsOverSrvTargetsByWeightWithinTheBestPriority() {
        String script = PICK + """
                export async function onUpstream(ex, cfg) {
                  const t = pickSrv(await torii.dns.resolve("_http._tcp.web.svc.test", { type: "SRV" }));
                  const [ip] = await torii.dns.resolve(t.target, { type: "A" });
                  ex.useEndpoint(ip + ":" + t.port);
                }
                """;
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder()
                        .quiet()
                        .timeout(SLICE)
                        .dnsCache(dns)
                        .build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "weighted", script, null)), Map.of());
            try (Gateway g = Gateway.builder()
                    .listener(Listener.http("web", "127.0.0.1:0"))
                    .ioThreads(2)
                    .routingTable(RoutingTable.builder()
                            .upstream(Upstream.builder("app")
                                    .endpoint(deadEndpoint)
                                    .build())
                            .route(Route.builder("all")
                                    .upstream("app")
                                    .hook(hook)
                                    .build())
                            .build())
                    .build()
                    .start()) {
                for (int i = 0; i < PICKS; i++) {
                    try (var c = new RawClient(g.address("web"))) {
                        c.write("GET /http/" + i + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
                        var r = c.readResponse();
                        assertThat(r.status()).as(r.bodyText()).isEqualTo(200);
                    }
                }
            }
        }
        assertSpread("/http/");
    }

    @Test
    void anOnConnectHookSpreadsConnectionsOverSrvTargetsByWeightWithinTheBestPriority() throws IOException {
        String script = PICK + """
                export async function onConnect(conn, cfg) {
                  const t = pickSrv(await torii.dns.resolve("_http._tcp.web.svc.test", { type: "SRV" }));
                  const [ip] = await torii.dns.resolve(t.target, { type: "A" });
                  conn.useEndpoint(ip + ":" + t.port);
                }
                """;
        try (DnsCache dns = cache();
                var scripts = ScriptRuntime.builder()
                        .quiet()
                        .timeout(SLICE)
                        .dnsCache(dns)
                        .build()) {
            var hook = scripts.hook(scripts.loadPlugin(TestPlugins.write(dir, "weighted-tcp", script, null)), Map.of());
            try (Gateway g = Gateway.builder()
                    .listener(TcpListener.builder("tcp", "127.0.0.1:0", "down")
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
                InetSocketAddress at = g.address("tcp");
                for (int i = 0; i < PICKS; i++) {
                    // HTTP through the TCP proxy: the backends are HTTP servers, the bytes pass through untouched.
                    try (var c = new RawClient(at)) {
                        c.write("GET /tcp/" + i + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
                        var r = c.readResponse();
                        assertThat(r.status()).as(r.bodyText()).isEqualTo(200);
                    }
                }
            }
        }
        assertSpread("/tcp/");
    }

    private static void assertSpread(String prefix) {
        long toBlue =
                blue.heads().stream().filter(h -> h.uri().startsWith(prefix)).count();
        long toGreen =
                green.heads().stream().filter(h -> h.uri().startsWith(prefix)).count();
        assertThat(toBlue + toGreen).isEqualTo(PICKS);
        assertThat(toGreen).as("weight 20 of 100, picked at least once").isPositive();
        assertThat(toBlue)
                .as("weight 80 of 100, picked more than half the time")
                .isGreaterThan(PICKS / 2);
    }

    private static DnsCache cache() {
        return zone.cache();
    }
}
