package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.server.demo.EchoService;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Settings read per connection or per forwarded request follow a reload: {@code limits.http2} for the HTTP/2
 * connections made after it, {@code limits.newConnectionsPerClient} for the connections accepted after it,
 * {@code forwarding} for the requests forwarded after it, and {@code plugins.watch} starts and stops the plugin file
 * watcher.
 */
class ReloadConnectionSettingsTest {
    private static final String BASE = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            routes:
              - name: a
                match: { pathPrefix: / }
                upstream: demo
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            """;

    @Test
    void newHttp2ConnectionsGetTheReloadedLimits(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = Files.writeString(dir.resolve("torii.yaml"), base);
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(maxConcurrentStreams(port)).isEqualTo(100);

                Files.writeString(file, base + "limits: { http2: { maxConcurrentStreams: 7 } }\n");
                ConfigReloadResult r = server.reload();
                assertThat(r.applied()).as("%s", r.errors()).isTrue();
                assertThat(r.notApplied()).isEmpty();
                assertThat(maxConcurrentStreams(port)).isEqualTo(7);
            }
        }
    }

    @Test
    void aReloadedConnectionRateRefusesTheConnectionsOverIt(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = Files.writeString(dir.resolve("torii.yaml"), base);
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                for (int i = 0; i < 3; i++) {
                    assertThat(statusOnNewConnection(port)).isEqualTo(200);
                }
                Files.writeString(file, base + "limits: { newConnectionsPerClient: { rate: 2, per: 1h } }\n");
                ConfigReloadResult r = server.reload();
                assertThat(r.applied()).as("%s", r.errors()).isTrue();
                assertThat(r.notApplied()).isEmpty();
                assertThat(statusOnNewConnection(port)).isEqualTo(200);
                assertThat(statusOnNewConnection(port)).isEqualTo(200);
                assertThat(statusOnNewConnection(port))
                        .as("the third within the hour")
                        .isEqualTo(-1);
                assertThat(server.gateway().stats().guardedConnections()).isPositive();
            }
        }
    }

    @Test
    void aReloadedTrustedProxyHasItsXForwardedForKept(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            Path file = Files.writeString(dir.resolve("torii.yaml"), base);
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(forwardedFor(port))
                        .as("an untrusted client's header is replaced")
                        .isEqualTo("127.0.0.1");

                Files.writeString(file, base + "forwarding: { trustedProxies: [ 127.0.0.1/32 ] }\n");
                ConfigReloadResult r = server.reload();
                assertThat(r.applied()).as("%s", r.errors()).isTrue();
                assertThat(r.notApplied()).isEmpty();
                assertThat(forwardedFor(port)).isEqualTo("203.0.113.9, 127.0.0.1");
            }
        }
    }

    @Test
    void aReloadStartsAndStopsThePluginFileWatcher(@TempDir Path dir) throws Exception {
        Path plugin = Files.createDirectories(dir.resolve("plugins/tag"));
        Files.writeString(plugin.resolve("plugin.json"), "{ \"name\": \"tag\", \"version\": \"1.0.0\" }\n");
        writeTag(plugin, "one");
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int port = freePort();
            String base = BASE.formatted(port, echo.address().getPort());
            String plugins = "plugins:\n  watch: %s\n  global: [ { name: tag } ]\n";
            Path file = Files.writeString(dir.resolve("torii.yaml"), base + plugins.formatted("false"));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                var scripts = server.scripts().orElseThrow();
                assertThat(scripts.watching()).isFalse();
                assertThat(awaitBody(port, "one")).isEqualTo("one");

                Files.writeString(file, base + plugins.formatted("true"));
                ConfigReloadResult on = server.reload();
                assertThat(on.applied()).as("%s", on.errors()).isTrue();
                assertThat(on.notApplied()).isEmpty();
                assertThat(scripts.watching()).isTrue();
                writeTag(plugin, "two");
                assertThat(awaitBody(port, "two"))
                        .as("reloaded by the watcher, without a configuration reload")
                        .isEqualTo("two");

                Files.writeString(file, base + plugins.formatted("false"));
                assertThat(server.reload().applied()).isTrue();
                assertThat(scripts.watching()).isFalse();
            }
        }
    }

    private static void writeTag(Path plugin, String tag) throws IOException {
        Files.writeString(
                plugin.resolve("plugin.js"),
                "export function onRequest(ex, cfg) {\n  return ex.respond(200, \"" + tag + "\");\n}\n");
    }

    /**
     * The {@code SETTINGS_MAX_CONCURRENT_STREAMS} of the server's first SETTINGS frame on a new h2c connection (by prior
     * knowledge), or -1 when it names none.
     */
    private static long maxConcurrentStreams(int port) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // an empty SETTINGS frame
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            int length = (in.readUnsignedShort() << 8) | in.readUnsignedByte();
            int type = in.readUnsignedByte();
            in.readUnsignedByte(); // flags
            in.readInt(); // stream id
            assertThat(type).as("the server's first frame is SETTINGS").isEqualTo(4);
            long max = -1;
            for (int read = 0; read < length; read += 6) {
                int id = in.readUnsignedShort();
                long value = in.readInt() & 0xffffffffL;
                if (id == 3) {
                    max = value;
                }
            }
            return max;
        }
    }

    /** The {@code x-forwarded-for} the echo upstream saw for a request that claims to come from 203.0.113.9. */
    private static String forwardedFor(int port) throws Exception {
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        try (client) {
            String body = client.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
                                    .header("X-Forwarded-For", "203.0.113.9")
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body();
            return body.lines()
                    .filter(l -> l.startsWith("x-forwarded-for:"))
                    .map(l -> l.substring("x-forwarded-for:".length()).trim())
                    .findFirst()
                    .orElse("(none)");
        }
    }

    /**
     * The body of a request, asked again (at most 100 times, 100 ms apart) until it is {@code expected}: a cold script
     * engine on a loaded machine may overrun the hook deadline at first, and the file watcher reloads when it next looks.
     */
    private static String awaitBody(int port, String expected) throws Exception {
        String seen = body(port);
        for (int i = 0; i < 100 && !seen.equals(expected); i++) {
            Thread.sleep(100);
            seen = body(port);
        }
        return seen;
    }

    private static String body(int port) throws Exception {
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        try (client) {
            return client.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body();
        }
    }

    /** The status on a connection of its own (-1 when the gateway closes it before answering). */
    private static int statusOnNewConnection(int port) throws Exception {
        HttpClient fresh = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        try (fresh) {
            return fresh.send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding())
                    .statusCode();
        } catch (IOException closed) {
            return -1;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
