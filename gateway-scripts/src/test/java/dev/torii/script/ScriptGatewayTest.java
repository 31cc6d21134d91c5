package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Plugins in a real gateway on loopback, in front of an in-process upstream. */
class ScriptGatewayTest {
    @TempDir
    Path dir;

    private static RawClient.RawResponse get(Gateway g, String path, String... headers) {
        try (var c = new RawClient(g.address("web"))) {
            var req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
            for (String h : headers) {
                req.append(h).append("\r\n");
            }
            c.write(req.append("\r\n").toString());
            return c.readResponse();
        }
    }

    private static Gateway gateway(TestUpstream upstream, dev.torii.Hook global, dev.torii.Hook routeHook) {
        var route = Route.builder("all").upstream("app");
        if (routeHook != null) {
            route.hook(routeHook);
        }
        var b = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(2)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(route.build())
                        .build());
        if (global != null) {
            b.hook(global);
        }
        return b.build().start();
    }

    @Test
    void dosGuardAnswers429AfterTheBurstAndTagsResponses() {
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE)) {
            var hook = scripts.hook(
                    scripts.loadPlugin(TestPlugins.example("dos-guard")), Map.of("rate", 1, "per", "1h", "burst", 3));
            try (var g = gateway(upstream, hook, null)) {
                for (int i = 0; i < 3; i++) {
                    var ok = get(g, "/hello");
                    assertThat(ok.status()).isEqualTo(200);
                    assertThat(ok.header("x-served-by")).isEqualTo("torii");
                }
                assertThat(upstream.heads()).hasSize(3).allSatisfy(r -> assertThat(r.header("x-client-ip"))
                        .isEqualTo("127.0.0.1"));
                var refused = get(g, "/hello");
                assertThat(refused.status()).isEqualTo(429);
                assertThat(refused.header("retry-after")).isEqualTo("1");
                assertThat(refused.header("x-served-by")).isEqualTo("torii"); // RESPONSE runs on local answers too
                assertThat(refused.bodyText()).isEqualTo("slow down\n");
                assertThat(upstream.heads()).hasSize(3);
                assertThat(scripts.shared("dos-guard").get("refused:127.0.0.1")).isEqualTo(1.0);
            }
        }
    }

    @Test
    void aFailingHookAnswers500ForThatExchangeOnlyAndTheGatewayKeepsServing() {
        Path p = TestPlugins.write(dir, "flaky", """
                export function onRequest(ex) {
                  if (ex.request.path === "/throw") throw new Error("broken on purpose");
                  if (ex.request.path === "/spin") { for (;;) {} }
                  ex.request.headers.set("x-route-hook", "ran");
                }
                """, null);
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE)) {
            var hook = scripts.hook(scripts.loadPlugin(p), Map.of());
            try (var g = gateway(upstream, null, hook)) {
                assertThat(get(g, "/throw").status()).isEqualTo(500);
                assertThat(get(g, "/spin").status()).isEqualTo(500);
                var ok = get(g, "/fine");
                assertThat(ok.status()).isEqualTo(200);
                assertThat(upstream.heads()).singleElement().satisfies(r -> {
                    assertThat(r.header("x-route-hook")).isEqualTo("ran");
                    assertThat(r.uri()).isEqualTo("/fine");
                });
                var stats = scripts.stats();
                assertThat(stats.failures()).isEqualTo(2);
                assertThat(stats.budgetsExceeded()).isEqualTo(1);
            }
        }
    }

    @Test
    void varsCarryFromRequestToResponseThroughTheEngine() {
        Path p = TestPlugins.write(dir, "timer", """
                export function onRequest(ex) { ex.vars.path = ex.request.path; }
                export function onUpstream(ex) { ex.request.headers.set("x-upstream-was", ex.upstream); }
                export function onResponse(ex) {
                  ex.response.headers.set("x-path", ex.vars.path);
                  ex.response.headers.set("x-status", String(ex.response.status));
                }
                """, null);
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start((req, res) -> res.respond(201, List.of(), "made\n"))) {
            try (var g = gateway(upstream, scripts.hook(scripts.loadPlugin(p), Map.of()), null)) {
                var r = get(g, "/items");
                assertThat(r.status()).isEqualTo(201);
                assertThat(r.header("x-path")).isEqualTo("/items");
                assertThat(r.header("x-status")).isEqualTo("201");
                assertThat(upstream.heads().getFirst().header("x-upstream-was")).isEqualTo("app");
            }
        }
    }

    @Test
    void exTlsShowsTheHandshakeOfAnHttpsListenerToPluginsOverH2AndHttp11() throws Exception {
        Path p = TestPlugins.write(dir, "tls-info", """
                export function onRequest(ex) {
                  const t = ex.tls;
                  return ex.respond(200, t == null ? "clear\\n" : [t.version, t.sni, t.alpn, t.cipher.length > 0].join(" ") + "\\n");
                }
                """, null);
        try (var scripts = ScriptRuntime.builder().build();
                var upstream = TestUpstream.start();
                var certs = dev.torii.testing.TestCertificates.create()) {
            var site = certs.issue("tls.test");
            try (var g = Gateway.builder()
                    .listener(Listener.http("web", "127.0.0.1:0"))
                    .listener(Listener.https(
                            "secure",
                            "127.0.0.1:0",
                            dev.torii.tls.ServerTls.of(dev.torii.tls.CertificateFiles.of(site.cert(), site.key()))))
                    .ioThreads(1)
                    .routingTable(RoutingTable.builder()
                            .upstream(Upstream.builder("app")
                                    .endpoint(upstream.endpoint())
                                    .build())
                            .route(Route.builder("all").upstream("app").build())
                            .build())
                    .hook(scripts.hook(scripts.loadPlugin(p), Map.of()))
                    .build()
                    .start()) {
                int port = g.address("secure").getPort();
                for (String version : List.of("--http2", "--http1.1")) {
                    Process curl = new ProcessBuilder(
                                    "curl",
                                    "-sS",
                                    "--max-time",
                                    "10",
                                    version,
                                    "--tlsv1.3",
                                    "--cacert",
                                    certs.caCert().toString(),
                                    "--resolve",
                                    "tls.test:" + port + ":127.0.0.1",
                                    "https://tls.test:" + port + "/")
                            .redirectErrorStream(true)
                            .start();
                    String out =
                            new String(curl.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                    assertThat(curl.waitFor()).as(out).isZero();
                    assertThat(out)
                            .isEqualTo(
                                    "TLSv1.3 tls.test " + (version.equals("--http2") ? "h2" : "http/1.1") + " true\n");
                }
                assertThat(get(g, "/plain").bodyText()).isEqualTo("clear\n");
            }
        }
    }
}
