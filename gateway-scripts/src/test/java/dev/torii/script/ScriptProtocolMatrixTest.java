package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.NginxBackend;
import dev.torii.testing.TestCertificates;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The script API in every phase over every client protocol (HTTP/1.1, h2 over TLS, h2c with prior knowledge) and both
 * clear-text upstream protocols (HTTP/1.1, h2c), against real nginx upstreams and curl: path and header rewrites in
 * the request phase, upstream request headers and the choice of upstream in the upstream phase, {@code ex.limit}, a
 * local answer, response headers built from {@code ex.vars} and a shared dictionary in the response phase, and the
 * log phase counting into the shared dictionary.
 */
class ScriptProtocolMatrixTest {
    private static final String PLUGIN = """
            export function onRequest(ex, cfg) {
              torii.shared("matrix").incr("request", 1);
              ex.vars.seen = "request";
              const p = ex.request.path;
              if (p === "/local") {
                return ex.respond(201, "local " + ex.request.headers.get("x-probe") + "\\n", { "x-local": "yes" });
              }
              if (p === "/limited" && !ex.limit(ex.request.headers.get("x-case"), { rate: 1, per: "1h", burst: 1 })) {
                return ex.respond(429, "limited\\n", { "retry-after": "3600" });
              }
              if (p.startsWith("/script/")) ex.request.setPath(p.substring("/script".length));
              if (p === "/limited") ex.request.setPath("/echo-protocol");
              ex.request.headers.set("cookie", "req=" + ex.request.headers.get("x-probe"));
            }
            export function onUpstream(ex, cfg) {
              ex.vars.seen += ",upstream";
              if (ex.request.headers.get("x-alt") === "1") ex.useUpstream("alt");
              ex.request.headers.set("cookie", ex.request.headers.get("cookie") + "; up=1");
            }
            export function onResponse(ex, cfg) {
              ex.response.headers.set("x-phases", ex.vars.seen + ",response");
              ex.response.headers.set("x-requests", String(torii.shared("matrix").get("request")));
            }
            export function onLog(ex, cfg) {
              torii.shared("matrix").incr("log " + ex.response.status, 1);
            }
            """;

    @TempDir
    Path dir;

    static Stream<Arguments> protocols() {
        List<Arguments> all = new ArrayList<>();
        for (String client : List.of("http1.1", "h2", "h2c")) {
            for (UpstreamProtocol upstream : List.of(UpstreamProtocol.HTTP_1_1, UpstreamProtocol.H2C)) {
                all.add(Arguments.of(client, upstream));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "client {0}, upstream {1}")
    @MethodSource("protocols")
    void everyPhaseOfTheScriptApiWorksOverEveryClientAndUpstreamProtocol(String client, UpstreamProtocol upstream)
            throws Exception {
        Path plugin = TestPlugins.write(dir, "matrix", PLUGIN, null);
        var nginxOptions = upstream == UpstreamProtocol.H2C
                ? NginxBackend.Options.defaults().withHttp2()
                : NginxBackend.Options.defaults();
        // A deadline far above any call: the first calls of each function run cold, and on a loaded machine (seven
        // builds on two cores) they overran the default 500 ms; budgets are not what this test is about.
        try (var scripts =
                        ScriptRuntime.builder().timeout(Duration.ofSeconds(30)).build();
                var app = NginxBackend.start(nginxOptions);
                var alt = NginxBackend.start(nginxOptions);
                var certs = TestCertificates.create()) {
            var site = certs.issue("matrix.test");
            var table = RoutingTable.builder()
                    .upstream(Upstream.builder("app")
                            .endpoint(app.endpoint())
                            .protocol(upstream)
                            .build())
                    .upstream(Upstream.builder("alt")
                            .endpoint(alt.endpoint())
                            .protocol(upstream)
                            .build())
                    .route(Route.builder("all").upstream("app").build())
                    .build();
            try (Gateway g = Gateway.builder()
                    .listener(Listener.http("web", "127.0.0.1:0"))
                    .listener(Listener.https(
                            "secure", "127.0.0.1:0", ServerTls.of(CertificateFiles.of(site.cert(), site.key()))))
                    .ioThreads(1)
                    .routingTable(table)
                    .hook(scripts.hook(scripts.loadPlugin(plugin), Map.of()))
                    .build()
                    .start()) {
                Curl curl = new Curl(client, g, certs.caCert());
                String upstreamProtocol = upstream == UpstreamProtocol.H2C ? "HTTP/2.0" : "HTTP/1.1";

                // Request phase: path and header rewrites; upstream phase: a header added; response phase: vars.
                Reply echoed = curl.get("/script/echo-protocol", "x-probe: p1");
                assertThat(echoed.status()).isEqualTo(200);
                assertThat(echoed.httpVersion()).isEqualTo(curl.expectedVersion());
                assertThat(echoed.body())
                        .startsWith("proto=" + upstreamProtocol)
                        .contains("cookie=req=p1; up=1");
                assertThat(echoed.header("x-phases")).isEqualTo("request,upstream,response");
                assertThat(echoed.header("x-requests")).isEqualTo("1");
                assertThat(app.accessLog()).anyMatch(l -> l.contains(upstreamProtocol + " /echo-protocol"));

                // Upstream phase: another upstream of the table.
                Reply chosen = curl.get("/script/echo-protocol", "x-probe: p2", "x-alt: 1");
                assertThat(chosen.status()).isEqualTo(200);
                assertThat(chosen.body()).contains("cookie=req=p2; up=1");
                assertThat(alt.accessLog()).hasSize(1);

                // Request phase: a local answer, which the response phase still sees (and the upstream one does not).
                Reply local = curl.get("/local", "x-probe: p3");
                assertThat(local.status()).isEqualTo(201);
                assertThat(local.body()).isEqualTo("local p3\n");
                assertThat(local.header("x-local")).isEqualTo("yes");
                assertThat(local.header("x-phases")).isEqualTo("request,response");

                // ex.limit: one token per case key, the second request is refused by the script.
                String key = "x-case: " + client + "-" + upstream;
                assertThat(curl.get("/limited", key).status()).isEqualTo(200);
                Reply limited = curl.get("/limited", key);
                assertThat(limited.status()).isEqualTo(429);
                assertThat(limited.header("retry-after")).isEqualTo("3600");
                assertThat(limited.header("x-requests")).isEqualTo("5");

                // Log phase: every exchange counted into the shared dictionary, once it finished.
                SharedDict shared = scripts.shared("matrix");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!(count(shared, "log 200") == 3
                                && count(shared, "log 201") == 1
                                && count(shared, "log 429") == 1)
                        && System.nanoTime() < deadline) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // onLog runs after the reply is sent
                }
                assertThat(count(shared, "log 200")).isEqualTo(3);
                assertThat(count(shared, "log 201")).isEqualTo(1);
                assertThat(count(shared, "log 429")).isEqualTo(1);
            }
        }
    }

    private static long count(SharedDict shared, String key) {
        Object v = shared.get(key);
        return v instanceof Number n ? n.longValue() : 0;
    }

    /** A reply as curl printed it: status, HTTP version, lower-cased headers, body. */
    record Reply(int status, String httpVersion, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name);
        }
    }

    /** Runs curl against the gateway with one client protocol. */
    private record Curl(String protocol, Gateway gateway, Path caCert) {
        String expectedVersion() {
            return protocol.equals("http1.1") ? "1.1" : "2";
        }

        Reply get(String path, String... headers) throws Exception {
            List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "20", "-D", "-", "-o", "-"));
            cmd.addAll(List.of("-w", "\n%{http_version}"));
            String url;
            switch (protocol) {
                case "http1.1" -> {
                    cmd.add("--http1.1");
                    url = "http://127.0.0.1:" + gateway.address("web").getPort() + path;
                }
                case "h2c" -> {
                    cmd.add("--http2-prior-knowledge");
                    url = "http://127.0.0.1:" + gateway.address("web").getPort() + path;
                }
                default -> {
                    int port = gateway.address("secure").getPort();
                    cmd.addAll(List.of(
                            "--http2",
                            "--cacert",
                            caCert.toString(),
                            "--resolve",
                            "matrix.test:" + port + ":127.0.0.1"));
                    url = "https://matrix.test:" + port + path;
                }
            }
            for (String h : headers) {
                cmd.addAll(List.of("-H", h));
            }
            cmd.add(url);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(out).isZero();
            int headEnd = out.indexOf("\r\n\r\n");
            String head = out.substring(0, headEnd);
            String rest = out.substring(headEnd + 4);
            int lastNl = rest.lastIndexOf('\n');
            String body = rest.substring(0, lastNl);
            String version = rest.substring(lastNl + 1).strip();
            String[] lines = head.split("\r\n");
            int status = Integer.parseInt(lines[0].split(" ")[1]);
            Map<String, String> hs = new java.util.HashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                hs.put(
                        lines[i].substring(0, colon).strip().toLowerCase(java.util.Locale.ROOT),
                        lines[i].substring(colon + 1).strip());
            }
            return new Reply(status, version, hs, body);
        }
    }
}
