package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.server.demo.EchoService;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Listeners change with a reload: one added answers, one removed drains (its idle connection ends cleanly) and its
 * port closes, an unchanged one keeps its socket and its open connections, and a new address that cannot bind refuses
 * the whole reload.
 */
class ListenerReloadTest {
    private static final String CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:%d" }
            %s
            routes:
              - name: all
                match: { pathPrefix: / }
                upstream: demo
            upstreams:
              demo: { endpoints: [ "127.0.0.1:%d" ] }
            """;

    @Test
    void aListenerAddedThenRemovedWhileTheUnchangedOneKeepsItsConnections(@TempDir Path dir) throws Exception {
        try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
            int echoPort = echo.address().getPort();
            int webPort = freePort();
            int apiPort = freePort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted(webPort, "", echoPort));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file);
                    Socket web = connect(webPort)) {
                assertThat(exchange(web)).isEqualTo("200 keep-alive");

                String api = "  - { name: api, protocol: http, address: \"127.0.0.1:" + apiPort + "\" }";
                Files.writeString(file, CONFIG.formatted(webPort, api, echoPort));
                ConfigReloadResult added = server.reload();
                assertThat(added.applied()).as("%s", added.errors()).isTrue();
                assertThat(added.notApplied()).isEmpty();
                try (Socket apiConnection = connect(apiPort)) {
                    assertThat(exchange(apiConnection)).isEqualTo("200 keep-alive");
                    assertThat(exchange(web))
                            .as("the unchanged listener's connection")
                            .isEqualTo("200 keep-alive");

                    // A new address that is taken: the whole reload is refused, and nothing changed.
                    try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                        String more = api + "\n  - { name: more, protocol: http, address: \"127.0.0.1:"
                                + taken.getLocalPort() + "\" }";
                        Files.writeString(
                                file, CONFIG.formatted(webPort, more, echoPort).replace("/ }", "/x }"));
                        ConfigReloadResult refused = server.reload();
                        assertThat(refused.applied()).isFalse();
                        assertThat(refused.errors()).singleElement().asString().contains("'more'", "cannot bind");
                        assertThat(exchange(apiConnection))
                                .as("routes unchanged")
                                .isEqualTo("200 keep-alive");
                    }

                    Files.writeString(file, CONFIG.formatted(webPort, "", echoPort));
                    ConfigReloadResult removed = server.reload();
                    assertThat(removed.applied()).isTrue();
                    ConfigReloadTest.awaitRefused(apiPort);
                    assertThat(apiConnection.getInputStream().read())
                            .as("the removed listener's idle connection ends cleanly")
                            .isEqualTo(-1);
                }
                assertThat(exchange(web))
                        .as("the unchanged listener's connection")
                        .isEqualTo("200 keep-alive");
            }
        }
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(10_000);
        return s;
    }

    /** One keep-alive request on {@code s}; returns "STATUS keep-alive" or "STATUS close". */
    static String exchange(Socket s) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = new BufferedInputStream(s.getInputStream(), 1);
        String status = line(in);
        long length = 0;
        boolean close = false;
        for (String h = line(in); !h.isEmpty(); h = line(in)) {
            String lower = h.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = Long.parseLong(lower.substring(15).trim());
            } else if (lower.startsWith("connection:") && lower.contains("close")) {
                close = true;
            }
        }
        in.skipNBytes(length);
        return status.split(" ")[1] + (close ? " close" : " keep-alive");
    }

    private static String line(InputStream in) throws IOException {
        var b = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new IOException("end of stream");
            }
            if (c != '\r') {
                b.append((char) c);
            }
        }
        return b.toString();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
