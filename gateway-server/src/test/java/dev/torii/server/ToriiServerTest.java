package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.TestCertificates;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The standalone server end to end: a YAML file, the gateway it describes (with its JavaScript plugins), the demo echo
 * service, and real curl.
 */
class ToriiServerTest {
    @Test
    void curlReachesTheDemoEchoServiceThroughTheGatewayStartedFromYaml(@TempDir Path dir) throws Exception {
        int echoPort = freePort();
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - match: { pathPrefix: / }
                    upstream: demo
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                """.formatted(echoPort, echoPort));

        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            assertThat(server.demoEcho())
                    .get()
                    .extracting(e -> e.address().getPort())
                    .isEqualTo(echoPort);
            int port = server.gateway().address("web").getPort();

            String get = curl("-i", "http://127.0.0.1:" + port + "/hello?x=1", "-H", "X-Test: yes");
            assertThat(get)
                    .startsWith("HTTP/1.1 200")
                    .contains("GET /hello?x=1 HTTP/1.1")
                    .containsIgnoringCase("x-test: yes")
                    .containsIgnoringCase("x-forwarded-for: 127.0.0.1")
                    .containsIgnoringCase("via: 1.1 torii")
                    .contains("body: 0 bytes");

            String post = curl("http://127.0.0.1:" + port + "/upload", "--data-binary", "hello, torii");
            assertThat(post).contains("POST /upload HTTP/1.1").contains("body: 12 bytes");
        }
    }

    @Test
    void anHttpsListenerServesH2AndHttp11ByAlpnWithCertificatesChosenBySni(@TempDir Path dir) throws Exception {
        int echoPort = freePort();
        try (TestCertificates certs = TestCertificates.create()) {
            TestCertificates.Issued site = certs.issue("site.test");
            TestCertificates.Issued other = certs.issue("other.test");
            Files.createDirectories(dir.resolve("certs"));
            Files.copy(site.cert(), dir.resolve("certs/site.pem"));
            Files.copy(site.key(), dir.resolve("certs/site.key"));
            Path file = Files.writeString(
                    dir.resolve("torii.yaml"), """
                    listeners:
                      - name: secure
                        protocol: https
                        address: "127.0.0.1:0"
                        tls:
                          certificates:
                            - { cert: certs/site.pem, key: certs/site.key }
                            - { cert: "%s", key: "%s" }
                    routes:
                      - match: { pathPrefix: / }
                        upstream: demo
                    upstreams:
                      demo: { endpoints: [ "127.0.0.1:%d" ] }
                    limits:
                      http2: { maxConcurrentStreams: 50, idleTimeout: 30s }
                    demo: { echo: "127.0.0.1:%d" }
                    """.formatted(other.cert(), other.key(), echoPort, echoPort));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
                int port = server.gateway().address("secure").getPort();
                for (String host : List.of("site.test", "other.test")) {
                    String out = curl(
                            "-v",
                            "--http2",
                            "--cacert",
                            certs.caCert().toString(),
                            "--resolve",
                            host + ":" + port + ":127.0.0.1",
                            "https://" + host + ":" + port + "/tls",
                            "-w",
                            "|%{http_version}");
                    assertThat(out).contains("GET /tls HTTP/1.1").endsWith("|2");
                }
                String h1 = curl(
                        "--http1.1",
                        "--cacert",
                        certs.caCert().toString(),
                        "--resolve",
                        "site.test:" + port + ":127.0.0.1",
                        "https://site.test:" + port + "/h1",
                        "-w",
                        "|%{http_version}");
                assertThat(h1).contains("x-forwarded-proto: https").endsWith("|1.1");
            }
        }
    }

    @Test
    void aPluginResolvesThroughTheConfiguredDnsCache(@TempDir Path dir) throws Exception {
        int echoPort = freePort();
        Path plugin = Files.createDirectories(dir.resolve("plugins/lookup"));
        Files.writeString(plugin.resolve("plugin.json"), """
                { "name": "lookup", "version": "1.0.0", "description": "answers a TXT record" }
                """);
        Files.writeString(plugin.resolve("plugin.js"), """
                export async function onRequest(ex, cfg) {
                  const [txt] = await torii.dns.resolve("flags.yaml.test", { type: "TXT" });
                  return ex.respond(200, "flags: " + txt + "\\n");
                }
                """);
        try (var unbound = dev.torii.testing.UnboundServer.start(java.util.List.of(
                "local-zone: \".\" static",
                "local-zone: \"yaml.test.\" static",
                "local-data: \"yaml.test. 3600 IN SOA ns.yaml.test. admin.yaml.test. 1 3600 600 86400 5\"",
                "local-data: 'flags.yaml.test. 30 IN TXT \"beta=on\"'"))) {
            Path file = Files.writeString(dir.resolve("torii.yaml"), """
                    listeners:
                      - { name: web, protocol: http, address: "127.0.0.1:0" }
                    routes:
                      - match: { pathPrefix: / }
                        upstream: demo
                    upstreams:
                      demo: { endpoints: [ "127.0.0.1:%d" ] }
                    dns: { upstreams: [ "127.0.0.1:%d" ] }
                    plugins:
                      directory: plugins
                      global: [ { name: lookup } ]
                    """.formatted(
                            echoPort, unbound.address().getPort()));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
                int port = server.gateway().address("web").getPort();
                assertThat(curl("-i", "http://127.0.0.1:" + port + "/"))
                        .startsWith("HTTP/1.1 200")
                        .endsWith("flags: beta=on\n");
                assertThat(server.dnsCache().orElseThrow().stats().misses()).isPositive();
            }
        }
    }

    @Test
    void anUpstreamWrittenAsAHostNameIsResolvedThroughTheConfiguredDnsCache(@TempDir Path dir) throws Exception {
        int echoPort = freePort();
        try (var unbound = dev.torii.testing.UnboundServer.start(java.util.List.of(
                "local-zone: \".\" static",
                "local-zone: \"yaml.test.\" static",
                "local-data: \"yaml.test. 3600 IN SOA ns.yaml.test. admin.yaml.test. 1 3600 600 86400 5\"",
                "local-data: \"echo.yaml.test. 30 IN A 127.0.0.1\""))) {
            Path file = Files.writeString(dir.resolve("torii.yaml"), """
                    listeners:
                      - { name: web, protocol: http, address: "127.0.0.1:0" }
                    routes:
                      - match: { pathPrefix: / }
                        upstream: demo
                    upstreams:
                      demo: { endpoints: [ "echo.yaml.test:%d" ] }
                    demo: { echo: "127.0.0.1:%d" }
                    dns: { upstreams: [ "127.0.0.1:%d" ], minTtl: 1s, maxTtl: 300s, staleFor: 1h }
                    """.formatted(
                            echoPort, echoPort, unbound.address().getPort()));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
                int port = server.gateway().address("web").getPort();
                String get = curl("-i", "http://127.0.0.1:" + port + "/by-name");
                assertThat(get).startsWith("HTTP/1.1 200").contains("GET /by-name HTTP/1.1");
            }
        }
    }

    @Test
    void curlSeesTheHeadersAndThe429OfPluginsAttachedInYamlAndAReloadedVersion(@TempDir Path dir) throws Exception {
        int echoPort = freePort();
        copyDirectory(repositoryRoot().resolve("examples/plugins/dos-guard"), dir.resolve("scripts/dos-guard"));
        Path tagger = Files.createDirectories(dir.resolve("scripts/tagger"));
        Files.writeString(tagger.resolve("plugin.json"), """
                { "name": "tagger", "version": "1.0.0",
                  "config": { "type": "object", "properties": { "tag": { "type": "string" } } } }
                """);
        Files.writeString(tagger.resolve("plugin.js"), """
                export function onResponse(ex, cfg) { ex.response.headers.set("x-tag", "v1 " + cfg.tag); }
                """);
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - name: guarded
                    match: { pathPrefix: /guarded }
                    upstream: demo
                    plugins: [ { name: dos-guard, config: { rate: 1, per: 1h, burst: 2, servedBy: torii-e2e } } ]
                  - match: { pathPrefix: / }
                    upstream: demo
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                plugins:
                  directory: scripts
                  watch: false
                  global: [ { name: tagger, config: { tag: blue } } ]
                """.formatted(echoPort, echoPort));

        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            assertThat(server.scripts()).get().satisfies(s -> assertThat(s.jitEnabled())
                    .isTrue());
            String base = "http://127.0.0.1:" + server.gateway().address("web").getPort();

            for (int i = 0; i < 2; i++) {
                assertThat(curl("-i", base + "/guarded/a"))
                        .startsWith("HTTP/1.1 200")
                        .containsIgnoringCase("x-served-by: torii-e2e")
                        .containsIgnoringCase("x-tag: v1 blue")
                        .containsIgnoringCase("x-client-ip: 127.0.0.1"); // echoed: the request header reached upstream
            }
            assertThat(curl("-i", base + "/guarded/a"))
                    .startsWith("HTTP/1.1 429")
                    .containsIgnoringCase("retry-after: 1")
                    .containsIgnoringCase("x-served-by: torii-e2e")
                    .endsWith("slow down\n");
            // Only the route that attaches dos-guard is limited; the global plugin runs everywhere.
            assertThat(curl("-i", base + "/other"))
                    .startsWith("HTTP/1.1 200")
                    .containsIgnoringCase("x-tag: v1 blue")
                    .doesNotContainIgnoringCase("x-served-by");

            Files.writeString(tagger.resolve("plugin.js"), """
                    export function onResponse(ex, cfg) { ex.response.headers.set("x-tag", "v2 " + cfg.tag); }
                    """);
            assertThat(server.reloadPlugins().reloaded())
                    .extracting(p -> p.name())
                    .containsExactly("tagger");
            assertThat(curl("-i", base + "/other")).containsIgnoringCase("x-tag: v2 blue");
        }
    }

    private static Path repositoryRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) {
            p = p.getParent();
        }
        assertThat(p).as("a directory with mvnw above the working directory").isNotNull();
        return p;
    }

    private static void copyDirectory(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("/usr/bin/curl", "-sS", "--max-time", "10"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("curl exit code; output:\n" + output).isZero();
        return output;
    }
}
