package dev.torii.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.EndpointStatus;
import dev.torii.upstream.HealthCheck;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A TCP connect check ({@link HealthCheck#tcp()}) on the upstream of a TCP listener: an endpoint that stops accepting
 * is marked unhealthy and new connections go to the others without trying it; once it accepts again it gets
 * connections after the healthy threshold. The endpoints are real sockets that answer each connection with their name.
 */
class TcpHealthCheckTest {
    /** A server that writes its name to each connection and closes it; counts what it accepted. */
    private static final class NamedServer implements AutoCloseable {
        final String name;
        final ServerSocket socket;
        final AtomicInteger accepted = new AtomicInteger();
        final Thread thread;

        NamedServer(String name, int port) throws IOException {
            this.name = name;
            this.socket = new ServerSocket();
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            this.thread = Thread.ofPlatform().daemon().start(() -> {
                while (!socket.isClosed()) {
                    try (Socket s = socket.accept()) {
                        accepted.incrementAndGet();
                        OutputStream out = s.getOutputStream();
                        out.write((name + "\n").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    } catch (IOException e) {
                        // closed
                    }
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            socket.close();
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static String readName(int port) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip();
        }
    }

    private static EndpointStatus status(Gateway g, int port) {
        return g.upstreamHealth().stream()
                .filter(e -> e.endpoint().port() == port)
                .findFirst()
                .orElseThrow();
    }

    private static void awaitAvailable(Gateway g, int port, boolean available) throws InterruptedException {
        for (int i = 0; i < 200 && status(g, port).available() != available; i++) {
            Thread.sleep(50);
        }
        assertThat(status(g, port).available())
                .as("endpoint :%d available", port)
                .isEqualTo(available);
    }

    @Test
    void anEndpointThatStopsAcceptingIsSkippedAndComesBackAfterTheHealthyThreshold() throws Exception {
        NamedServer a = new NamedServer("a", 0);
        int portA = a.port();
        try (NamedServer b = new NamedServer("b", 0);
                Gateway g = Gateway.builder()
                        .listener(TcpListener.of("names", "127.0.0.1:0", "pair"))
                        .ioThreads(1)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("pair")
                                        .endpoint("127.0.0.1:" + portA)
                                        .endpoint("127.0.0.1:" + b.port())
                                        .healthCheck(HealthCheck.tcp()
                                                .every(Duration.ofMillis(100), Duration.ofMillis(100))
                                                .thresholds(2, 1))
                                        .build())
                                .build())
                        .build()
                        .start()) {
            int port = g.address("names").getPort();
            var before = new java.util.ArrayList<String>();
            for (int i = 0; i < 6; i++) {
                before.add(readName(port));
            }
            assertThat(before).as("both endpoints serve").contains("a", "b");

            a.close(); // a's port now refuses connections
            awaitAvailable(g, portA, false);
            long failedBefore = g.stats().upstreamConnectsFailed();
            for (int i = 0; i < 10; i++) {
                assertThat(readName(port)).isEqualTo("b");
            }
            assertThat(g.stats().upstreamConnectsFailed())
                    .as("no connection tried the endpoint the checks found down")
                    .isEqualTo(failedBefore);

            try (NamedServer back = new NamedServer("a", portA)) {
                awaitAvailable(g, portA, true);
                var after = new java.util.ArrayList<String>();
                for (int i = 0; i < 6; i++) {
                    after.add(readName(port));
                }
                assertThat(after).as("a gets connections again").contains("a", "b");
                assertThat(back.accepted.get()).as("the checks connect too").isGreaterThan(1);
            }
        } finally {
            a.close();
        }
    }

    @Test
    void aRefusedBackendConnectIsCountedByReason() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dead = s.getLocalPort();
        }
        try (Gateway g = Gateway.builder()
                .listener(TcpListener.of("names", "127.0.0.1:0", "gone"))
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("gone")
                                .endpoint("127.0.0.1:" + dead)
                                .build())
                        .build())
                .build()
                .start()) {
            assertThat(readName(g.address("names").getPort()))
                    .as("closed: no backend")
                    .isEmpty();
            var gone = g.upstreamPools().stream()
                    .filter(p -> p.upstream().equals("gone"))
                    .findFirst()
                    .orElseThrow();
            assertThat(gone.connectsFailed(dev.torii.upstream.ConnectFailure.REFUSED))
                    .isEqualTo(1);
            assertThat(gone.connectsOk()).isZero();
            assertThat(g.stats().upstreamConnectsFailed()).isEqualTo(1);
        }
    }
}
