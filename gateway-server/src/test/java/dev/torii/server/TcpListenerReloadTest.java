package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP listeners change with a reload as http ones do: one added relays to its backend, one whose upstream changed sends
 * new connections to the new backend while an open one keeps relaying to the old, a port in use or a removed upstream
 * still in use refuses the whole reload, and one removed closes its port while its open connection relays on.
 */
class TcpListenerReloadTest {
    private static final String CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:0" }
            %s
            upstreams:
              a: { endpoints: [ "127.0.0.1:%d" ] }
            %s
            """;

    @Test
    void aReloadAddsChangesAndRemovesATcpListenerAndOpenConnectionsRelayOn(@TempDir Path dir) throws Exception {
        try (TagServer backendA = new TagServer("A");
                TagServer backendB = new TagServer("B")) {
            int rawPort = freePort();
            String raw = "  - { name: raw, protocol: tcp, address: \"127.0.0.1:" + rawPort + "\", upstream: %s }";
            String upstreamB = "  b: { endpoints: [ \"127.0.0.1:" + backendB.port() + "\" ] }";
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted("", backendA.port(), upstreamB));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                // Added: a real client gets through to the backend.
                Files.writeString(file, CONFIG.formatted(raw.formatted("a"), backendA.port(), upstreamB));
                ConfigReloadResult added = server.reload();
                assertThat(added.applied()).as("%s", added.errors()).isTrue();
                assertThat(added.notApplied()).isEmpty();
                try (Relay first = new Relay(rawPort)) {
                    assertThat(first.tag()).isEqualTo("A");
                    assertThat(first.echo("one")).isEqualTo("one");

                    // Changed upstream: new connections go to the new backend, the open one keeps its own.
                    Files.writeString(file, CONFIG.formatted(raw.formatted("b"), backendA.port(), upstreamB));
                    ConfigReloadResult changed = server.reload();
                    assertThat(changed.applied()).as("%s", changed.errors()).isTrue();
                    try (Relay second = new Relay(rawPort)) {
                        assertThat(second.tag()).isEqualTo("B");
                        assertThat(first.echo("two"))
                                .as("the connection opened before")
                                .isEqualTo("two");

                        // The check of removed upstreams follows the new tcp listeners: b is in use now.
                        Files.writeString(
                                file,
                                CONFIG.formatted(raw.formatted("a"), backendA.port(), "")
                                        .replace("upstream: a", "upstream: b"));
                        ConfigReloadResult inUse = server.reload();
                        assertThat(inUse.applied()).isFalse();
                        assertThat(String.join("\n", inUse.errors())).contains("'b'");

                        // A new tcp listener on a port in use: refused, and nothing changed.
                        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                            String more = raw.formatted("a") + "\n  - { name: more, protocol: tcp, address: "
                                    + "\"127.0.0.1:" + taken.getLocalPort() + "\", upstream: a }";
                            Files.writeString(file, CONFIG.formatted(more, backendA.port(), upstreamB));
                            ConfigReloadResult refused = server.reload();
                            assertThat(refused.applied()).isFalse();
                            assertThat(String.join("\n", refused.errors())).contains("'more'", "cannot bind");
                        }
                        try (Relay third = new Relay(rawPort)) {
                            assertThat(third.tag())
                                    .as("still the upstream before the refused reloads")
                                    .isEqualTo("B");
                        }

                        // Removed: the port closes, the open connections relay on until they close.
                        Files.writeString(file, CONFIG.formatted("", backendA.port(), upstreamB));
                        ConfigReloadResult removed = server.reload();
                        assertThat(removed.applied()).as("%s", removed.errors()).isTrue();
                        ConfigReloadTest.awaitRefused(rawPort);
                        assertThat(second.echo("three")).isEqualTo("three");
                        assertThat(first.echo("four")).isEqualTo("four");
                    }
                }
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** A client connection through the gateway to a {@link TagServer}. */
    private static final class Relay implements AutoCloseable {
        private final Socket socket;
        private final BufferedReader in;
        private final PrintWriter out;

        Relay(int port) throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), port);
            socket.setSoTimeout(10_000);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            out = new PrintWriter(socket.getOutputStream(), true, StandardCharsets.US_ASCII);
        }

        /** The first line the backend sends: its tag. */
        String tag() throws IOException {
            return in.readLine();
        }

        String echo(String line) throws IOException {
            out.println(line);
            return in.readLine();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** A loopback TCP backend that greets each connection with its tag, then echoes lines. */
    static final class TagServer implements AutoCloseable {
        private final ServerSocket server;

        TagServer(String tag) throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        Thread.ofVirtual().start(() -> serve(s, tag));
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
        }

        private static void serve(Socket s, String tag) {
            try (s;
                    var in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                    var out = new PrintWriter(s.getOutputStream(), true, StandardCharsets.US_ASCII)) {
                out.println(tag);
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    out.println(line);
                }
            } catch (IOException e) {
                // the client went away
            }
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
