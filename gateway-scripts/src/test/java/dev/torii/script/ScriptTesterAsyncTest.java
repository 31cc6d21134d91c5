package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.dns.DnsCache;
import dev.torii.testing.UnboundServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ScriptTester} with {@code async} hooks that await {@code torii.dns.resolve} of names a real unbound serves:
 * the tester runs the hook's continuations until its Promise settles and returns what it settled with.
 */
class ScriptTesterAsyncTest {
    private static UnboundServer unbound;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        unbound = UnboundServer.start(List.of(
                "local-zone: \"svc.test.\" static",
                "local-data: \"svc.test. 3600 IN SOA ns.svc.test. admin.svc.test. 1 3600 600 86400 5\"",
                "local-data: \"node.svc.test. 30 IN A 127.0.0.7\"",
                "local-data: \"_http._tcp.web.svc.test. 30 IN SRV 1 10 8081 node.svc.test.\""));
    }

    @AfterAll
    static void stop() {
        unbound.close();
    }

    private static final String SCRIPT = """
            export async function onRequest(ex, cfg) {
              let ip;
              try {
                [ip] = await torii.dns.resolve(ex.request.path.substring(1), { type: "A" });
              } catch (e) {
                return ex.respond(502, e.code + "\\n");
              }
              ex.request.headers.set("x-ip", ip);
            }

            export async function onUpstream(ex, cfg) {
              const [srv] = await torii.dns.resolve("_http._tcp.web.svc.test", { type: "SRV" });
              const [ip] = await torii.dns.resolve(srv.target, { type: "A" });
              ex.useEndpoint(ip + ":" + srv.port);
            }

            export async function onConnect(conn, cfg) {
              const [ip] = await torii.dns.resolve("node.svc.test", { type: "A" });
              if (ip !== "127.0.0.7") return conn.reject();
              conn.useEndpoint(ip + ":6379");
            }
            """;

    @Test
    void aPhaseMethodWaitsForTheAsyncHooksPromiseAwaitingADnsMissAndReturnsWhatItSettledWith() {
        try (DnsCache dns =
                        DnsCache.builder().upstreams(List.of(unbound.address())).build();
                var t = ScriptTester.builder(TestPlugins.write(dir, "async", SCRIPT, null))
                        .dnsCache(dns)
                        .build()) {
            var ex = t.exchange("GET", "/node.svc.test");
            // A miss: the hook's Promise is pending when onRequest returns to the tester, which runs it to the end.
            assertThat(t.onRequest(ex).proceeded()).isTrue();
            assertThat(ex.requestHeaders().get("x-ip")).isEqualTo("127.0.0.7");
            assertThat(dns.stats().misses()).isPositive();

            var failed = t.onRequest(t.exchange("GET", "/nowhere.svc.test"));
            assertThat(failed.status()).isEqualTo(502);
            assertThat(failed.body()).isEqualTo("NAME_NOT_FOUND\n");

            var up = t.exchange("GET", "/");
            assertThat(t.onUpstream(up).proceeded()).isTrue();
            assertThat(up.endpoint().host()).isEqualTo("127.0.0.7");
            assertThat(up.endpoint().port()).isEqualTo(8081);

            var conn = t.connection("10.0.0.1", "tcp", "app");
            assertThat(t.onConnect(conn)).isTrue();
            assertThat(conn.endpoint().port()).isEqualTo(6379);
        }
    }

    @Test
    void aPromiseThatNeverSettlesFailsThePhaseMethodAtTheAwaitTimeout() {
        String script = """
                export async function onRequest(ex, cfg) {
                  await new Promise(() => {});
                }
                """;
        try (var t = ScriptTester.builder(TestPlugins.write(dir, "hang", script, null))
                .awaitTimeout(Duration.ofMillis(200))
                .build()) {
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/")))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("onRequest: its Promise did not settle within PT0.2S (awaitTimeout)");
        }
    }
}
