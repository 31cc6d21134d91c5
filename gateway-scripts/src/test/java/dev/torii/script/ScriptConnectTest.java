package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Gateway;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.RedisServer;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code onConnect(conn, cfg)}: in the ScriptTester, and in a real gateway's TCP listener in front of redis-server. */
class ScriptConnectTest {
    private static RedisServer redis;

    @TempDir
    Path dir;

    @BeforeAll
    static void startRedis() {
        redis = RedisServer.start();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    private static final String GUARD = """
            export function onConnect(conn, cfg) {
              if (cfg.deny.includes(conn.client.ip)) return conn.reject();
              if (!conn.limit(conn.client.ip, { rate: 1, per: "1h", burst: cfg.burst })) return conn.reject();
              if (conn.listener === "cache-ro") conn.useUpstream("replica");
              torii.shared("tcp").incr("accepted:" + conn.listener);
            }
            """;
    private static final String GUARD_SCHEMA = """
            { "type": "object", "properties": {
                "deny": { "type": "array", "items": { "type": "string" }, "default": [] },
                "burst": { "type": "integer", "default": 1000 } } }
            """;

    @Test
    void theTesterRunsOnConnectWithTheBackendChoiceRejectionsAndRateLimits() {
        Path p = TestPlugins.write(dir, "guard", GUARD, GUARD_SCHEMA);
        try (var t = ScriptTester.builder(p)
                .config(Map.of("deny", java.util.List.of("10.0.0.9"), "burst", 2))
                .upstreams("redis", "replica")
                .build()) {
            assertThat(t.onConnect(t.connection("10.0.0.9", "cache", "redis"))).isFalse();
            var ro = t.connection("10.0.0.1", "cache-ro", "redis");
            assertThat(t.onConnect(ro)).isTrue();
            assertThat(ro.upstream()).isEqualTo("replica");
            assertThat(t.onConnect(t.connection("10.0.0.1", "cache", "redis"))).isTrue();
            assertThat(t.onConnect(t.connection("10.0.0.1", "cache", "redis")))
                    .as("third connection of the burst of 2")
                    .isFalse();
            t.advance(Duration.ofHours(1));
            assertThat(t.onConnect(t.connection("10.0.0.1", "cache", "redis"))).isTrue();
            assertThat(t.shared("tcp").get("accepted:cache")).isEqualTo(2.0);
            assertThat(t.hook().plugin().phases()).containsExactly(dev.torii.Phase.CONNECT);
        }
    }

    @Test
    void connObjectsFollowTheirRules() {
        try (var t = TestPlugins.tester(dir, """
                let kept;
                export function onConnect(conn, cfg) {
                  if (kept !== undefined) {
                    try { kept.listener; } catch (e) { torii.log("stale: " + e.message); }
                  }
                  kept = conn;
                  conn.useEndpoint("10.1.2.3:6379");
                  torii.log(conn.phase + " " + conn.client.ip + " " + conn.local.port + " " + conn.endpoint
                      + " maintenance=" + torii.maintenance.enabled);
                  if (conn.client.ip === "10.0.0.2") return "yes";
                }
                """)) {
            var c = t.connection("10.0.0.1", "cache", "redis");
            assertThat(t.onConnect(c)).isTrue();
            assertThat(c.endpoint()).hasToString("10.1.2.3:6379");
            t.maintenance().enable();
            assertThat(t.onConnect(t.connection("10.0.0.1", "cache", "redis"))).isTrue();
            assertThat(t.logs())
                    .containsExactly(
                            "info test: connect 10.0.0.1 6380 10.1.2.3:6379 maintenance=false",
                            "info test: stale: conn.listener: this conn belongs to an onConnect call that has returned"
                                    + " (expected: use conn only during the call it was passed to)",
                            "info test: connect 10.0.0.1 6380 10.1.2.3:6379 maintenance=true");
            assertThatThrownBy(() -> t.onConnect(t.connection("10.0.0.2", "cache", "redis")))
                    .isInstanceOf(ScriptException.class)
                    .hasMessageContaining(
                            "plugin.js returned yes (expected: nothing to go on, or the" + " value of conn.reject())");
        }
    }

    @Test
    void aMisspelledOnConnectIsRefusedAtLoad() {
        Path p = TestPlugins.write(dir, "typo", "export function onconnect(conn) {}", null);
        try (var scripts = ScriptRuntime.builder().quiet().build()) {
            assertThatThrownBy(() -> scripts.loadPlugin(p))
                    .isInstanceOf(PluginException.class)
                    .hasMessageContaining("export onconnect is not a phase function (expected one of: onConnect,");
        }
    }

    // ------------------------------------------------------------------ a real gateway and redis-server

    private static Gateway gateway(ScriptHook hook, String... deadUpstreams) throws IOException {
        var table = RoutingTable.builder()
                .upstream(Upstream.builder("redis").endpoint(redis.hostPort()).build())
                .upstream(Upstream.builder("replica").endpoint(redis.hostPort()).build());
        return Gateway.builder()
                .listener(TcpListener.builder("cache", "127.0.0.1:0", "redis")
                        .hook(hook)
                        .build())
                .listener(TcpListener.builder("cache-ro", "127.0.0.1:0", "down")
                        .hook(hook)
                        .build())
                .routingTable(table.upstream(Upstream.builder("down")
                                .endpoint(deadEndpoint())
                                .build())
                        .build())
                .ioThreads(2)
                .build()
                .start();
    }

    private static String deadEndpoint() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return "127.0.0.1:" + s.getLocalPort();
        }
    }

    /** PING over a socket bound to {@code from}; the reply, or "" when the gateway closed the connection. */
    private static String ping(InetSocketAddress at, String from) throws IOException {
        try (Socket s = new Socket(at.getAddress(), at.getPort(), InetAddress.getByName(from), 0)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            try {
                return new String(s.getInputStream().readNBytes(7), StandardCharsets.US_ASCII);
            } catch (SocketException reset) {
                return "";
            }
        }
    }

    @Test
    void aPluginRejectsByIpRateLimitsConnectionsAndChoosesTheBackendInFrontOfRedis() throws Exception {
        Path p = TestPlugins.write(dir, "guard", GUARD, GUARD_SCHEMA);
        try (var scripts = ScriptRuntime.builder().quiet().build()) {
            ScriptHook hook =
                    scripts.hook(scripts.loadPlugin(p), Map.of("deny", java.util.List.of("127.0.0.2"), "burst", 3));
            try (Gateway g = gateway(hook)) {
                InetSocketAddress cache = g.address("cache");
                assertThat(ping(cache, "127.0.0.2")).isEmpty();
                // The listener's upstream is down; the plugin sends cache-ro to the replica (the same redis here).
                assertThat(ping(g.address("cache-ro"), "127.0.0.1")).isEqualTo("+PONG\r\n");
                assertThat(RedisServer.cli(cache, null, "PING").text()).isEqualTo("PONG");
                assertThat(ping(cache, "127.0.0.1")).isEqualTo("+PONG\r\n");
                assertThat(ping(cache, "127.0.0.1"))
                        .as("fourth connection of a burst of 3")
                        .isEmpty();
                assertThat(g.stats().tcpConnectionsRejected()).isEqualTo(2);
                assertThat(scripts.shared("tcp").get("accepted:cache")).isEqualTo(2.0);
            }
        }
    }

    @Test
    void aPluginSeesTheGatewaysMaintenanceSwitch() throws Exception {
        Path p = TestPlugins.write(dir, "closed", """
                export function onConnect(conn) {
                  if (torii.maintenance.enabled) return conn.reject();
                }
                """, null);
        MaintenanceMode m = MaintenanceMode.builder().build();
        try (var scripts = ScriptRuntime.builder().quiet().maintenance(m).build()) {
            try (Gateway g = gateway(scripts.hook(scripts.loadPlugin(p), Map.of()))) {
                assertThat(ping(g.address("cache"), "127.0.0.1")).isEqualTo("+PONG\r\n");
                m.enable();
                assertThat(ping(g.address("cache"), "127.0.0.1")).isEmpty();
                m.disable();
                assertThat(ping(g.address("cache"), "127.0.0.1")).isEqualTo("+PONG\r\n");
            }
        }
    }
}
