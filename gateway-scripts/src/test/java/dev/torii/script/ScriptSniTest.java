package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code conn.sni} in {@code onConnect}: a plugin routes TLS passthrough connections by their server name. */
class ScriptSniTest {
    @TempDir
    Path dir;

    @Test
    void onConnectReadsTheServerNameAndRoutesByIt() {
        Path p = TestPlugins.write(dir, "by-sni", """
                export function onConnect(conn, cfg) {
                  if (conn.sni === null) return conn.reject();
                  if (conn.sni.endsWith(".internal.example")) conn.useUpstream("internal");
                }
                """, "{ \"type\": \"object\" }");
        try (var t = ScriptTester.builder(p)
                .config(Map.of())
                .upstreams("public", "internal")
                .build()) {
            var internal = t.connection("10.0.0.1", "tls", "public").sni("db.internal.example");
            assertThat(t.onConnect(internal)).isTrue();
            assertThat(internal.upstream()).isEqualTo("internal");
            var other = t.connection("10.0.0.1", "tls", "public").sni("www.example");
            assertThat(t.onConnect(other)).isTrue();
            assertThat(other.upstream()).isEqualTo("public");
            assertThat(t.onConnect(t.connection("10.0.0.1", "tls", "public")))
                    .as("no server name: rejected by the plugin")
                    .isFalse();
        }
    }
}
