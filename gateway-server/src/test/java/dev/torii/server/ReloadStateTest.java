package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.maintenance.MaintenanceSource;
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
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * State that outlives a configuration reload: the meters of rate-limit policies and access lists, scraped from the
 * admin API's {@code /metrics} before and after a real {@link ToriiServer#reload()}; curl as the client, bound to
 * 127.0.0.x.
 */
class ReloadStateTest {
    private static final String METERS_CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            rateLimits:
            %s
            rateLimit: a
            routes:
              - { name: b, match: { pathPrefix: /b }, upstream: demo%s }
              - { name: all, match: { pathPrefix: / }, upstream: demo }
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            demo: { echo: "127.0.0.1:%d" }
            admin: { address: "127.0.0.1:%d" }
            access:
              deny: [ %s ]
            """;

    @TempDir
    Path dir;

    @Test
    void aReloadRemovesTheSeriesOfARemovedPolicyAndTheMetersReadTheChangedPolicyAndTheCurrentAccessLists()
            throws Exception {
        int web = freePort();
        int echo = freePort();
        int admin = freePort();
        Path file = dir.resolve("torii.yaml");
        Files.writeString(file, METERS_CONFIG.formatted(web, """
                          a: { key: clientIp, rate: 1, per: 1h, burst: 2 }
                          b: { key: clientIp, rate: 1, per: 1h, burst: 1 }
                        """, ", rateLimit: b", echo, echo, admin, "127.0.0.9"));
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
            String base = "http://127.0.0.1:" + web;
            String metricsUrl = "http://127.0.0.1:" + admin + "/metrics";
            List<String> a = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                a.add(status(curl("127.0.0.2", base + "/x")));
            }
            assertThat(a).containsExactly("200", "200", "429");
            assertThat(status(curl("127.0.0.3", base + "/b"))).isEqualTo("200");
            assertThat(status(curl("127.0.0.9", base + "/x"))).isEqualTo("403");
            String before = body(metricsUrl);
            assertThat(value(before, "torii_ratelimit_requests_total", "policy=\"a\"", "outcome=\"allowed\""))
                    .isEqualTo(3.0); // 127.0.0.2 twice and 127.0.0.3 once (127.0.0.9 is refused before)
            assertThat(value(before, "torii_ratelimit_requests_total", "policy=\"a\"", "outcome=\"limited\""))
                    .isEqualTo(1.0);
            assertThat(value(before, "torii_ratelimit_requests_total", "policy=\"b\"", "outcome=\"allowed\""))
                    .isEqualTo(1.0);
            assertThat(value(before, "torii_access_denied_total", "kind=\"request\""))
                    .isEqualTo(1.0);
            assertThat(value(before, "torii_access_list_entries", "rule=\"deny\""))
                    .isEqualTo(1.0);

            // Policy b removed (and its route's attachment), a changed (a new limiter, full buckets), c added; one
            // more address denied.
            Files.writeString(file, METERS_CONFIG.formatted(web, """
                              a: { key: clientIp, rate: 1, per: 1h, burst: 5 }
                              c: { key: clientIp, rate: 1, per: 1h, burst: 5 }
                            """, "", echo, echo, admin, "127.0.0.9, 127.0.0.8"));
            ConfigReloadResult result = server.reload();
            assertThat(result.applied()).as(result.errors().toString()).isTrue();

            String after = body(metricsUrl);
            assertThat(after).doesNotContain("policy=\"b\"");
            assertThat(value(after, "torii_ratelimit_requests_total", "policy=\"a\"", "outcome=\"allowed\""))
                    .isEqualTo(0.0);
            assertThat(value(after, "torii_ratelimit_keys", "policy=\"c\"")).isEqualTo(0.0);
            // The changed policy's meters count its new limiter: 127.0.0.2 has full buckets again.
            assertThat(status(curl("127.0.0.2", base + "/x"))).isEqualTo("200");
            assertThat(status(curl("127.0.0.8", base + "/x"))).isEqualTo("403");
            String later = body(metricsUrl);
            assertThat(value(later, "torii_ratelimit_requests_total", "policy=\"a\"", "outcome=\"allowed\""))
                    .isEqualTo(1.0);
            assertThat(value(later, "torii_ratelimit_requests_total", "policy=\"a\"", "outcome=\"limited\""))
                    .isEqualTo(0.0);
            // The denial counter reads the new lists and keeps what the replaced ones counted.
            assertThat(value(later, "torii_access_denied_total", "kind=\"request\""))
                    .isEqualTo(2.0);
            assertThat(value(later, "torii_access_list_entries", "rule=\"deny\""))
                    .isEqualTo(2.0);
        }
    }

    private static final String MAINTENANCE_CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            routes:
              - { match: { pathPrefix: / }, upstream: demo }
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            %s
            maintenance: { %s }
            """;

    @Test
    void aReloadMovesTheMaintenanceFlagFileAndKeepsWhatTheAdminApiSwitched() throws Exception {
        int web = freePort();
        int upstream = freePort();
        Path a = dir.resolve("a.on");
        Path b = dir.resolve("b.on");
        Path file = dir.resolve("torii.yaml");
        Files.writeString(file, MAINTENANCE_CONFIG.formatted(web, upstream, "", "file: a.on"));
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
            var maintenance = server.maintenance();
            Files.writeString(a, "");
            await(maintenance::fileOn, "the first flag file is seen");
            maintenance.enable(MaintenanceSource.ADMIN);

            Files.writeString(file, MAINTENANCE_CONFIG.formatted(web, upstream, "", "file: b.on"));
            ConfigReloadResult result = server.reload();
            assertThat(result.applied()).as(result.errors().toString()).isTrue();
            assertThat(result.notApplied()).isEmpty();
            // The new file does not exist: its part is off at once; the admin API's switch stays on.
            assertThat(maintenance.file().getFileName()).isEqualTo(b.getFileName());
            assertThat(maintenance.fileOn()).isFalse();
            assertThat(maintenance.switchedOn()).isTrue();

            maintenance.disable(MaintenanceSource.ADMIN);
            assertThat(maintenance.enabled()).isFalse(); // a.on still exists, but it is no longer the flag file
            Files.writeString(b, "");
            await(maintenance::enabled, "the new flag file is polled");
            assertThat(maintenance.fileOn()).isTrue();
            Files.delete(b);
            await(() -> !maintenance.enabled(), "the new flag file's removal is seen");
        }
    }

    @Test
    void aReloadMovesTheMaintenanceSwitchToANewRedisKeyAndItsChannelWithTheStateItHad() throws Exception {
        try (RedisServer redis = RedisServer.start()) {
            int web = freePort();
            int upstream = freePort();
            String redisSection = "redis: { address: \"" + redis.hostPort() + "\" }";
            Path file = dir.resolve("torii.yaml");
            Files.writeString(
                    file, MAINTENANCE_CONFIG.formatted(web, upstream, redisSection, "redis: { key: \"m:a\" }"));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                var maintenance = server.maintenance();
                await(() -> maintenance.stats().redisConnected(), "Redis connected");
                maintenance.enable(MaintenanceSource.ADMIN);
                await(() -> "on".equals(cli(redis, "GET", "m:a")), "the switch written to the first key");

                Files.writeString(
                        file, MAINTENANCE_CONFIG.formatted(web, upstream, redisSection, "redis: { key: \"m:b\" }"));
                ConfigReloadResult result = server.reload();
                assertThat(result.applied()).as(result.errors().toString()).isTrue();
                assertThat(result.notApplied()).isEmpty();
                // The new key was empty: seeded with the state the switch had; the old channel is left.
                await(() -> "on".equals(cli(redis, "GET", "m:b")), "the new key seeded with the switch's state");
                assertThat(maintenance.switchedOn()).isTrue();
                await(
                        () -> cli(redis, "PUBSUB", "NUMSUB", "m:a").endsWith("\n0")
                                && cli(redis, "PUBSUB", "NUMSUB", "m:b").endsWith("\n1"),
                        "subscribed to the new channel only");

                // Another replica switches it off through the new key and channel.
                cli(redis, "SET", "m:b", "off");
                cli(redis, "PUBLISH", "m:b", "off");
                await(() -> !maintenance.switchedOn(), "the new channel's message applied");
                assertThat(cli(redis, "GET", "m:a")).isEqualTo("on");

                // A Redis address that does not answer refuses the whole reload, naming the setting.
                int closedPort = freePort();
                Files.writeString(
                        file,
                        MAINTENANCE_CONFIG.formatted(
                                web,
                                upstream,
                                "redis: { address: \"127.0.0.1:" + closedPort + "\" }",
                                "redis: { key: \"m:c\" }"));
                ConfigReloadResult refused = server.reload();
                assertThat(refused.applied()).isFalse();
                assertThat(refused.errors().toString())
                        .contains("redis.address")
                        .contains(":" + closedPort);
                assertThat(maintenance.toString()).contains("key 'm:b'");
            }
        }
    }

    private static final String REDIS_CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            redis: { address: "%s" }
            rateLimits:
              local: { key: clientIp, rate: 1, per: 1h, burst: 5 }
              cluster: { key: clientIp, rate: 1, per: 1h, burst: 2, store: redis, onStoreFailure: closed, storeTimeout: 5s }
            rateLimit: local
            routes:
              - { match: { pathPrefix: /shared }, upstream: demo, rateLimit: cluster }
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            demo: { echo: "127.0.0.1:%d" }
            """;

    @Test
    void aReloadMovesRedisPoliciesToANewRedisAndClosesTheOldConnectionAndOneThatCannotConnectIsRefused()
            throws Exception {
        try (RedisServer first = RedisServer.start();
                RedisServer second = RedisServer.start()) {
            int web = freePort();
            int echo = freePort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, REDIS_CONFIG.formatted(web, first.hostPort(), echo, echo));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                String shared = "http://127.0.0.1:" + web + "/shared";
                assertThat(status(curl("127.0.0.4", shared))).isEqualTo("200");
                assertThat(cli(first, "EXISTS", "torii:rl:cluster:127.0.0.4")).isEqualTo("1");
                var local = server.rateLimits().get("local");

                Files.writeString(file, REDIS_CONFIG.formatted(web, second.hostPort(), echo, echo));
                ConfigReloadResult moved = server.reload();
                assertThat(moved.applied()).as(moved.errors().toString()).isTrue();
                assertThat(moved.notApplied()).isEmpty();
                // The bucket now lives in the second Redis: it starts full there, and the first is no longer asked.
                List<String> after = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    after.add(status(curl("127.0.0.4", shared)));
                }
                assertThat(after).containsExactly("200", "200", "429");
                assertThat(cli(second, "EXISTS", "torii:rl:cluster:127.0.0.4")).isEqualTo("1");
                assertThat(server.rateLimits().get("local")).isSameAs(local); // a local policy keeps its buckets
                // The old connection closes after the swap: only redis-cli itself is left on the first Redis.
                await(() -> cli(first, "INFO", "clients").contains("connected_clients:1\r"), "old connection closed");

                // A Redis that does not answer refuses the whole reload, naming the setting; the running one stays.
                int closedPort = freePort();
                Files.writeString(file, REDIS_CONFIG.formatted(web, "127.0.0.1:" + closedPort, echo, echo));
                ConfigReloadResult refused = server.reload();
                assertThat(refused.applied()).isFalse();
                assertThat(refused.errors().toString())
                        .contains("redis.address")
                        .contains("127.0.0.1:" + closedPort);
                cli(second, "DEL", "torii:rl:cluster:127.0.0.4");
                assertThat(status(curl("127.0.0.4", shared))).isEqualTo("200"); // still counted by the second
                assertThat(cli(second, "EXISTS", "torii:rl:cluster:127.0.0.4")).isEqualTo("1");
            }
        }
    }

    private static String cli(RedisServer redis, String... args) {
        return RedisServer.cli(redis.address(), null, args).text();
    }

    /** Waits (bounded: 20 s) until {@code condition} holds. */
    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() < deadline)
                    .as("waited 20 s for: " + what)
                    .isTrue();
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }

    /** The value of the series {@code name} whose labels include every one of {@code labels}; null when absent. */
    static Double value(String metrics, String name, String... labels) {
        for (String line : metrics.split("\n")) {
            if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
                continue;
            }
            String head = line.substring(0, line.lastIndexOf(' '));
            boolean all = true;
            for (String l : labels) {
                all &= head.contains(l);
            }
            if (all) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return null;
    }

    static String status(String head) {
        return head.split(" ", 3)[1];
    }

    static String body(String url) throws Exception {
        return run(List.of("curl", "-sS", "--max-time", "20", url));
    }

    static String curl(String from, String url) throws Exception {
        return run(List.of("curl", "-sS", "-o", "/dev/null", "-D", "-", "--interface", from, "--max-time", "20", url));
    }

    private static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new String(out, StandardCharsets.UTF_8);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
