package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ReloadStatsTest {
    private static final String BASE = """
            listeners: [ { name: web, protocol: http, address: "127.0.0.1:8080" } ]
            routes: [ { match: { pathPrefix: / }, upstream: app } ]
            upstreams: { app: { endpoints: [ "127.0.0.1:9000" ] } }
            admin: { address: "127.0.0.1:9901" }
            """;

    @Test
    void changesOfAppliedSectionsAreNotNamedOnlyThoseOfOtherSections() {
        String routesOnly = BASE.replace("pathPrefix: /", "pathPrefix: /api").replace("9000", "9001");
        assertThat(ReloadStats.unappliedChanges(BASE, routesOnly)).isEmpty();

        String more = BASE.replace("8080", "8081")
                .replace(
                        "admin:",
                        "limits: { maxConnections: 5 }\nioThreads: 2\naccess: { deny: [ 10.0.0.1 ] }\nadmin:");
        // Listeners, limits and access are applied; ioThreads is not.
        assertThat(ReloadStats.unappliedChanges(BASE, more)).containsExactly("ioThreads");
        // The dns settings are applied (DnsCache.reconfigure); the demo echo service needs a restart.
        assertThat(ReloadStats.unappliedChanges(
                        BASE,
                        BASE.replace(
                                "admin:",
                                "dns: { servers: [ \"127.0.0.1:53\" ] }\ndemo: { echo: \"127.0.0.1:9\" }\nadmin:")))
                .containsExactly("demo");
    }

    @Test
    void countsEachResultInTheMetersAndTheAdminView() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ReloadStats stats = new ReloadStats(registry);
        assertThat(stats.asMap()).containsEntry("lastResult", "none").containsEntry("lastTime", null);

        stats.record(true, Instant.ofEpochSecond(100));
        assertThat(registry.get("torii.config.reload.last.success").gauge().value())
                .isEqualTo(1.0);
        stats.record(false, Instant.ofEpochSecond(200));

        assertThat(stats.asMap())
                .containsEntry("ok", 1L)
                .containsEntry("failed", 1L)
                .containsEntry("lastResult", "failed")
                .containsEntry("lastTime", "1970-01-01T00:03:20Z");
        assertThat(registry.get("torii.config.reloads")
                        .tag("result", "ok")
                        .counter()
                        .count())
                .isEqualTo(1.0);
        assertThat(registry.get("torii.config.reloads")
                        .tag("result", "failed")
                        .counter()
                        .count())
                .isEqualTo(1.0);
        assertThat(registry.get("torii.config.reload.last.time").gauge().value())
                .isEqualTo(200.0);
    }
}
