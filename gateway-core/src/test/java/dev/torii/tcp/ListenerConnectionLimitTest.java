package dev.torii.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.ListenerOptions;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link ListenerOptions#maxConnections()}: a listener's own cap on open client connections, TCP and HTTP. */
class ListenerConnectionLimitTest {
    @Test
    void aTcpListenerClosesConnectionsOverItsLimitAndAdmitsAgainWhenOneCloses() throws Exception {
        try (ServerSocket echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                Gateway g = Gateway.builder()
                        .listener(TcpListener.builder("tcp", "127.0.0.1:0", "echo")
                                .options(ListenerOptions.DEFAULTS.withMaxConnections(2))
                                .build())
                        .ioThreads(1)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("echo")
                                        .endpoint("127.0.0.1:" + echo.getLocalPort())
                                        .build())
                                .build())
                        .build()
                        .start()) {
            Thread.ofVirtual().start(() -> echoLoop(echo));
            InetSocketAddress addr = g.address("tcp");
            try (Socket a = new Socket(addr.getAddress(), addr.getPort());
                    Socket b = new Socket(addr.getAddress(), addr.getPort())) {
                assertThat(ask(a, "a")).isEqualTo("a");
                assertThat(ask(b, "b")).isEqualTo("b");
                try (Socket c = new Socket(addr.getAddress(), addr.getPort())) {
                    assertThat(readToEnd(c))
                            .as("third connection closed at accept")
                            .isEmpty();
                }
                assertThat(g.stats().guardedConnections()).isEqualTo(1);
            }
            // Both closed: the count goes down once the gateway sees the closes.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String answer = null;
            while (answer == null && System.nanoTime() < deadline) {
                try (Socket d = new Socket(addr.getAddress(), addr.getPort());
                        Socket e = new Socket(addr.getAddress(), addr.getPort())) {
                    answer = ask(d, "d") + ask(e, "e");
                } catch (IOException notYet) {
                    TimeUnit.MILLISECONDS.sleep(50);
                }
            }
            assertThat(answer).isEqualTo("de");
        }
    }

    @Test
    void anHttpListenerHasTheSameCap() throws Exception {
        try (TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "ok\n"));
                Gateway g = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0")
                                .withOptions(ListenerOptions.DEFAULTS.withMaxConnections(1)))
                        .ioThreads(1)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("app")
                                        .endpoint(upstream.endpoint())
                                        .build())
                                .route(Route.builder("all").upstream("app").build())
                                .build())
                        .build()
                        .start()) {
            InetSocketAddress addr = g.address("web");
            try (Socket a = new Socket(addr.getAddress(), addr.getPort())) {
                a.getOutputStream().write("GET / HTTP/1.1\r\nhost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                byte[] head = new byte[12];
                a.setSoTimeout(10_000);
                assertThat(a.getInputStream().readNBytes(head, 0, 12)).isEqualTo(12);
                assertThat(new String(head, StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 200");
                try (Socket b = new Socket(addr.getAddress(), addr.getPort())) {
                    b.getOutputStream().write("GET / HTTP/1.1\r\nhost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    assertThat(readToEnd(b)).isEmpty();
                }
            }
        }
    }

    @Test
    void aNegativeLimitIsRefused() {
        assertThatThrownBy(() -> ListenerOptions.DEFAULTS.withMaxConnections(-1))
                .hasMessage("maxConnections: -1 (expected: >= 0)");
    }

    private static void echoLoop(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread.ofVirtual().start(() -> {
                    try (s) {
                        s.getInputStream().transferTo(s.getOutputStream());
                    } catch (IOException e) {
                        // peer gone
                    }
                });
            } catch (IOException e) {
                return;
            }
        }
    }

    private static String ask(Socket s, String text) throws IOException {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.US_ASCII));
        byte[] buf = new byte[text.length()];
        int n = s.getInputStream().readNBytes(buf, 0, buf.length);
        if (n < buf.length) {
            throw new IOException("closed after " + n + " bytes");
        }
        return new String(buf, StandardCharsets.US_ASCII);
    }

    private static byte[] readToEnd(Socket s) throws IOException {
        s.setSoTimeout(10_000);
        var out = new java.io.ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
        } catch (SocketException reset) {
            // a reset ends the stream too
        }
        return out.toByteArray();
    }
}
