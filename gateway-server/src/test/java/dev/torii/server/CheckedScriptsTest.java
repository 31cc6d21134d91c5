package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.maintenance.MaintenanceSource;
import dev.torii.script.ScriptRuntime;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.ConfigLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code torii run}'s one JavaScript engine: the runtime that checks a configuration's plugins while the file is read
 * is the one that serves them, bound to the gateway's maintenance switch and rate-limit policies made after it; a
 * configuration without plugins starts no engine at all.
 */
class CheckedScriptsTest {
    @Test
    void thePluginsAreServedByTheEngineThatCheckedThemWithTheGatewaysSwitchAndPolicies(@TempDir Path dir)
            throws Exception {
        Path plugin = Files.createDirectories(dir.resolve("plugins/probe"));
        Files.writeString(plugin.resolve("plugin.json"), """
                { "name": "probe", "version": "1.0.0" }
                """);
        // A named policy and the maintenance switch: both exist only once the server starts, after the check.
        Files.writeString(plugin.resolve("plugin.js"), """
                export function onRequest(ex, cfg) {
                  if (!ex.limit(ex.client.ip, "one")) return ex.respond(429, "limited\\n");
                  return ex.respond(200, "maintenance " + torii.maintenance.enabled + "\\n");
                }
                """);
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                rateLimits:
                  one: { key: clientIp, rate: 1, per: 1h, burst: 2 }
                maintenance: { respond: false }
                routes:
                  - { match: { pathPrefix: / }, upstream: app }
                upstreams:
                  app: { endpoints: [ "127.0.0.1:9" ] }
                plugins:
                  watch: false
                  global: [ { name: probe } ]
                """);

        CheckedScripts checked = new CheckedScripts();
        var config = ConfigLoader.load(file, checked);
        assertThat(checked.started()).as("the check made the engine").isTrue();
        ScriptRuntime checking = checked.get();

        try (ToriiServer server = ToriiServer.start(config, file, checked);
                HttpClient client = HttpClient.newHttpClient()) {
            assertThat(server.scripts()).containsSame(checking);
            assertThatThrownBy(checked::get).hasMessageContaining("handed to a server");
            URI uri = URI.create(
                    "http://127.0.0.1:" + server.gateway().address("web").getPort() + "/");

            HttpResponse<String> first =
                    client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(first.body()).isEqualTo("maintenance false\n");
            server.maintenance().enable(MaintenanceSource.ADMIN);
            HttpResponse<String> second =
                    client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(second.body()).isEqualTo("maintenance true\n");
            HttpResponse<String> third =
                    client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(third.statusCode()).isEqualTo(429);
        }
        checked.close(); // after a hand-over: nothing to do, and no failure
    }

    @Test
    void aConfigurationWithoutPluginsStartsNoEngine(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { match: { pathPrefix: / }, upstream: app }
                upstreams:
                  app: { endpoints: [ "127.0.0.1:9" ] }
                """);
        CheckedScripts checked = new CheckedScripts();
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file, checked), file, checked)) {
            assertThat(checked.started()).isFalse();
            assertThat(server.scripts()).isEmpty();
        }
    }

    @Test
    void aConfigurationThatFailsItsCheckLeavesTheEngineToTheCallerToClose(@TempDir Path dir) throws Exception {
        Path plugin = Files.createDirectories(dir.resolve("plugins/probe"));
        Files.writeString(plugin.resolve("plugin.json"), """
                { "name": "probe", "version": "1.0.0",
                  "config": { "type": "object", "properties": { "n": { "type": "integer" } } } }
                """);
        Files.writeString(plugin.resolve("plugin.js"), "export function onRequest(ex, cfg) {}\n");
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - { match: { pathPrefix: / }, upstream: app }
                upstreams:
                  app: { endpoints: [ "127.0.0.1:9" ] }
                plugins:
                  watch: false
                  global: [ { name: probe, config: { n: "x" } } ]
                """);
        CheckedScripts checked = new CheckedScripts();
        assertThatThrownBy(() -> ConfigLoader.load(file, checked)).isInstanceOf(ConfigException.class);
        ScriptRuntime made = checked.get();
        checked.close();
        assertThatThrownBy(() -> made.loadPlugin(plugin)).isInstanceOf(IllegalStateException.class);
    }
}
