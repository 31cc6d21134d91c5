package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.upstream.Upstream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An HTTP/2 rapid-reset burst (HEADERS then RST_STREAM, stream after stream, below the reset flood limit) must cost
 * the origin neither a connection per reset stream nor any of their requests: a stream reset before its request went
 * upstream opens and holds no upstream connection of its own, and its request is never written.
 */
class Http2RapidResetUpstreamTest {
    /** Reset streams per burst: far more than the handful of upstream connections the burst may cost. */
    private static final int BURST = 60;
    /** Upstream connections the bursts may cost at most (the legitimate requests need one). */
    private static final int HANDFUL = 4;

    private CountingOrigin origin;
    private Gateway gateway;

    @BeforeEach
    void start() throws IOException {
        origin = new CountingOrigin();
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint("127.0.0.1:" + origin.port())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                // Above the bursts, so that the client connection survives them (the flood limit is not tested here).
                .http2Limits(Http2Limits.builder().maxResetsPerWindow(1000).build())
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterEach
    void stop() throws IOException {
        if (gateway != null) {
            gateway.close();
        }
        if (origin != null) {
            origin.close();
        }
    }

    @Test
    void streamsResetBeforeTheirRequestWentUpstreamOpenNoConnectionsAndReachNoOrigin() throws IOException {
        try (RawH2Client c = RawH2Client.connect(
                new InetSocketAddress("127.0.0.1", gateway.address("web").getPort()))) {
            c.timeout(10_000);
            int stream = 1;
            // The first burst meets a cold pool (connects in progress), the second a warm one (idle connections).
            for (int round = 0; round < 2; round++) {
                // In one write: a reset that comes in a later read than its HEADERS may find the request sent.
                c.batch();
                for (int i = 0; i < BURST; i++) {
                    c.headers(stream, RawH2Client.request("GET", "/reset/" + round + "/" + i, "h2.test"), true)
                            .rst(stream, 0x8);
                    stream += 2;
                }
                // A legitimate request after the burst, on the same connection: once it is answered, every frame of
                // the burst was processed.
                c.headers(stream, RawH2Client.request("GET", "/legit/" + round, "h2.test"), true)
                        .flush();
                RawH2Client.Outcome legit = c.await(stream);
                assertThat(legit.status())
                        .as("legitimate request after burst %d", round)
                        .isEqualTo(200);
                stream += 2;
            }
        }
        long resetRequests =
                origin.paths().stream().filter(p -> p.startsWith("/reset/")).count();
        String seen = origin.accepted() + " connections, " + resetRequests + " requests of reset streams";
        assertThat(resetRequests)
                .as("requests of reset streams the origin saw (%s)", seen)
                .isZero();
        assertThat(origin.accepted())
                .as("upstream connections opened (%s)", seen)
                .isBetween(1, HANDFUL);
        assertThat(origin.paths()).containsExactly("/legit/0", "/legit/1");
    }

    /** An HTTP/1.1 origin on a plain socket that counts the connections it accepts and the requests it reads. */
    private static final class CountingOrigin implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        private final AtomicInteger accepted = new AtomicInteger();
        private final List<String> paths = new CopyOnWriteArrayList<>();
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        CountingOrigin() throws IOException {
            Thread.ofVirtual().start(this::acceptLoop);
        }

        int port() {
            return server.getLocalPort();
        }

        int accepted() {
            return accepted.get();
        }

        List<String> paths() {
            return List.copyOf(paths);
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    accepted.incrementAndGet();
                    sockets.add(s);
                    Thread.ofVirtual().start(() -> serve(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                BufferedReader in =
                        new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
                OutputStream out = s.getOutputStream();
                String line;
                while ((line = in.readLine()) != null) {
                    paths.add(line.split(" ")[1]);
                    while ((line = in.readLine()) != null && !line.isEmpty()) {
                        // headers: a GET has no body
                    }
                    out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                }
            } catch (IOException e) {
                // the gateway closed the connection
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
