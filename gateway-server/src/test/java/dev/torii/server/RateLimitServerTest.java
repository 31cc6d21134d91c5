package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.RedisServer;
import java.io.IOException;
import java.net.InetAddress;
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
 * Rate limits from torii.yaml in a running server: a global per-IP policy, a route's Redis policy against a real
 * redis-server, and a plugin calling {@code ex.limit(key, "policy")}; curl as the client, bound to 127.0.0.x.
 */
class RateLimitServerTest {
    @TempDir
    Path dir;

    @Test
    void yamlPoliciesLimitEachClientOnTheirOwnAndARoutesRedisPolicyAndScriptsUseThem() throws Exception {
        try (RedisServer redis = RedisServer.start()) {
            Path plugin = Files.createDirectories(dir.resolve("plugins/quota"));
            Files.writeString(plugin.resolve("plugin.json"), """
                    { "name": "quota", "version": "1.0.0", "config": { "type": "object" } }
                    """);
            Files.writeString(plugin.resolve("plugin.js"), """
                    export function onRequest(ex) {
                      if (!ex.limit(ex.request.headers.get("x-user") ?? "anon", "per-user")) {
                        return ex.respond(429, "quota\\n");
                      }
                    }
                    """);
            int echo = freePort();
            Path file = Files.writeString(dir.resolve("torii.yaml"), """
                    listeners:
                      - { name: web, protocol: http, address: "127.0.0.1:0" }
                    redis: { address: "%s" }
                    rateLimits:
                      per-ip: { key: clientIp, rate: 3, per: 1m }
                      per-user: { key: clientIp, rate: 1, per: 1h, burst: 2 }
                      cluster: { key: clientIp, rate: 1, per: 1h, burst: 2, store: redis, onStoreFailure: open, storeTimeout: 2s }
                    rateLimit: per-ip
                    routes:
                      - { match: { pathPrefix: /shared }, upstream: demo, rateLimit: cluster }
                      - { match: { pathPrefix: /script }, upstream: demo, plugins: [ { name: quota } ] }
                      - { match: { pathPrefix: / }, upstream: demo }
                    upstreams:
                      demo: { endpoints: [ "127.0.0.1:%d" ] }
                    demo: { echo: "127.0.0.1:%d" }
                    plugins: { watch: false }
                    """.formatted(redis.hostPort(), echo, echo));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
                String base =
                        "http://127.0.0.1:" + server.gateway().address("web").getPort();
                List<String> a = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    a.add(status(curl("127.0.0.2", base + "/x")));
                }
                assertThat(a).containsExactly("200", "200", "200", "429");
                String refused = curl("127.0.0.2", base + "/x");
                assertThat(refused.toLowerCase(java.util.Locale.ROOT))
                        .contains("ratelimit-policy: \"per-ip\";q=3;w=60")
                        .contains("ratelimit: \"per-ip\";r=0;t=")
                        .contains("retry-after: ");
                assertThat(status(curl("127.0.0.3", base + "/x"))).isEqualTo("200");

                List<String> shared = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    shared.add(status(curl("127.0.0.4", base + "/shared")));
                }
                assertThat(shared)
                        .as(server.rateLimits().get("cluster").stats().toString())
                        .containsExactly("200", "200", "429");
                assertThat(RedisServer.cli(redis.address(), null, "EXISTS", "torii:rl:cluster:127.0.0.4")
                                .text())
                        .isEqualTo("1");

                // A cold script may run past its deadline on a loaded machine: warm it up first (bounded).
                for (int i = 0;
                        i < 3
                                && !status(curl("127.0.0.6", base + "/script", "x-user: warm"))
                                        .equals("200");
                        i++) {
                    TimeUnit.MILLISECONDS.sleep(100);
                }
                List<String> script = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    script.add(status(curl("127.0.0.5", base + "/script")));
                }
                assertThat(script).containsExactly("200", "200", "429");
                assertThat(server.rateLimits().get("per-user").stats().limited())
                        .isEqualTo(1);
                assertThat(server.rateLimits().get("cluster").stats().allowed()).isEqualTo(2);
            }
        }
    }

    private static String status(String head) {
        return head.split(" ", 3)[1];
    }

    private static String curl(String from, String url, String... headers) throws Exception {
        List<String> command = new ArrayList<>(
                List.of("curl", "-sS", "-o", "/dev/null", "-D", "-", "--interface", from, "--max-time", "20", url));
        for (String h : headers) {
            command.addAll(List.of("-H", h));
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new String(out, StandardCharsets.US_ASCII);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
