package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code listeners[].rateLimit} and {@code listeners[].access} in a running server: the listener's policy limits its
 * requests over HTTP/1.1 and h2 (and a tcp listener's connections), other listeners are left alone, and the listener's
 * list closes a refused address at accept. curl and sockets as clients, bound to 127.0.0.x.
 */
class ListenerGuardsServerTest {
    @TempDir
    Path dir;

    @Test
    void aListenersRateLimitAndAccessListApplyToThatListenerOverH1H2AndTcp() throws Exception {
        int echo = freePort();
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - name: web
                    protocol: http
                    address: "127.0.0.1:0"
                    rateLimit: { key: clientIp, rate: 1, per: 1h, burst: 2 }
                    access: { deny: [ 127.0.0.4 ] }
                  - { name: other, protocol: http, address: "127.0.0.1:0" }
                  - name: raw
                    protocol: tcp
                    address: "127.0.0.1:0"
                    upstream: demo
                    rateLimit: per-conn
                    access: { deny: [ 127.0.0.4 ] }
                rateLimits:
                  per-conn: { key: clientIp, rate: 1, per: 1h, burst: 1 }
                routes:
                  - { match: { pathPrefix: / }, upstream: demo }
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                """.formatted(echo, echo));
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            String web = "http://127.0.0.1:" + server.gateway().address("web").getPort() + "/x";
            String other =
                    "http://127.0.0.1:" + server.gateway().address("other").getPort() + "/x";
            int raw = server.gateway().address("raw").getPort();

            List<String> h1 = new ArrayList<>();
            List<String> h2 = new ArrayList<>();
            List<String> elsewhere = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                h1.add(curl("127.0.0.2", web, "--http1.1"));
                h2.add(curl("127.0.0.3", web, "--http2-prior-knowledge"));
                elsewhere.add(curl("127.0.0.2", other, "--http1.1"));
            }
            assertThat(h1).containsExactly("HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 429");
            assertThat(h2).containsExactly("HTTP/2 200", "HTTP/2 200", "HTTP/2 429");
            assertThat(elsewhere).containsOnly("HTTP/1.1 200");
            assertThat(server.rateLimits().get("listener:web").stats().limited())
                    .isEqualTo(2);

            assertThat(tcpServed("127.0.0.2", raw)).isTrue();
            assertThat(tcpServed("127.0.0.2", raw))
                    .as("second connection within the hour")
                    .isFalse();
            assertThat(tcpServed("127.0.0.3", raw)).isTrue();

            assertThat(curl("127.0.0.4", web, "--http1.1"))
                    .as("closed at accept")
                    .isEqualTo("");
            assertThat(tcpServed("127.0.0.4", raw)).isFalse();
            assertThat(curl("127.0.0.4", other, "--http1.1")).isEqualTo("HTTP/1.1 200");
            assertThat(server.gateway().stats().guardedConnections()).isEqualTo(2);
        }
    }

    /** The response's status line (without the reason), or "" when the connection closed without one. */
    private static String curl(String from, String url, String version) throws Exception {
        Process p = new ProcessBuilder(
                        "curl",
                        "-sS",
                        version,
                        "-o",
                        "/dev/null",
                        "-D",
                        "-",
                        "--interface",
                        from,
                        "--max-time",
                        "20",
                        url)
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        if (!out.startsWith("HTTP/")) {
            return "";
        }
        String[] line = out.lines().findFirst().orElseThrow().split(" ");
        return line[0] + " " + line[1];
    }

    /** Whether an HTTP request through the TCP listener from {@code from} is answered before EOF. */
    private static boolean tcpServed(String from, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(20_000);
            try {
                s.getOutputStream()
                        .write("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)
                        .startsWith("HTTP/1.1 200");
            } catch (IOException e) {
                return false; // reset by the close
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
