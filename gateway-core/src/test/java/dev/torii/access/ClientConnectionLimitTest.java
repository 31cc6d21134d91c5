package dev.torii.access;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code limits.maxConnectionsPerClient}: the connections of one client address over the limit are closed at accept
 * while other addresses are served, and a closed connection frees its place. Real sockets bound to 127.0.0.x.
 */
class ClientConnectionLimitTest {
    @Test
    void aClientOverItsConnectionLimitIsClosedAtAcceptWhileOthersAreServed() throws Exception {
        try (TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "ok\n"));
                Gateway g = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .limits(Limits.builder().maxConnectionsPerClient(2).build())
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("app")
                                        .endpoint(upstream.endpoint())
                                        .build())
                                .route(Route.builder("all").upstream("app").build())
                                .build())
                        .ioThreads(1)
                        .build()
                        .start()) {
            int port = g.address("web").getPort();
            Socket first = connect("127.0.0.2", port);
            Socket second = connect("127.0.0.2", port);
            assertThat(get(first)).startsWith("HTTP/1.1 200");
            assertThat(get(second)).startsWith("HTTP/1.1 200");
            try (Socket third = connect("127.0.0.2", port)) {
                assertThat(closedWithoutAnswer(third)).isTrue();
            }
            try (Socket other = connect("127.0.0.3", port)) {
                assertThat(get(other)).startsWith("HTTP/1.1 200");
            }
            assertThat(g.stats().guardedConnections()).isEqualTo(1);

            first.close();
            // The gateway notices the close on its event loop; a bounded wait for the freed place.
            boolean served = false;
            for (int i = 0; i < 50 && !served; i++) {
                try (Socket again = connect("127.0.0.2", port)) {
                    served = !closedWithoutAnswer(again);
                }
                if (!served) {
                    Thread.sleep(100);
                }
            }
            assertThat(served).isTrue();
            second.close();
        }
    }

    private static Socket connect(String from, int port) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        s.setSoTimeout(10_000);
        return s;
    }

    /** One keep-alive request; the response head's first line and the rest read until the body's end. */
    private static String get(Socket s) throws IOException {
        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        StringBuilder b = new StringBuilder();
        while (!b.toString().endsWith("ok\n")) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            b.append((char) c);
        }
        return b.toString();
    }

    /** Sends a request and reports whether the connection ended without a byte of answer. */
    private static boolean closedWithoutAnswer(Socket s) throws IOException {
        try {
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            return s.getInputStream().read() < 0;
        } catch (IOException e) {
            return true; // reset by the close
        }
    }
}
