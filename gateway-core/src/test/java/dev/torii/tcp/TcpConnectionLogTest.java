package dev.torii.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Each closed TCP listener connection yields one {@link TcpConnectionLog} for global hooks, which the TCP metrics
 * ({@code torii_tcp_*}, Micrometer) count: outcome, bytes both ways and duration by listener.
 */
class TcpConnectionLogTest {
    @Test
    void closedConnectionsAreRecordedWithBytesOutcomeAndBackendAndCountedInMetrics() throws Exception {
        List<TcpConnectionLog> logs = new CopyOnWriteArrayList<>();
        Hook recorder = new Hook() {
            @Override
            public ConnectResult onConnect(Connection conn) {
                return conn.clientAddress().getAddress().getHostAddress().equals("127.0.0.9")
                        ? ConnectResult.reject()
                        : ConnectResult.proceed();
            }

            @Override
            public void onConnectionClosed(TcpConnectionLog log) {
                logs.add(log);
            }
        };
        var registry = new SimpleMeterRegistry();
        String dead;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dead = "127.0.0.1:" + s.getLocalPort();
        }
        try (ServerSocket echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                Gateway g = Gateway.builder()
                        .listener(TcpListener.of("echo", "127.0.0.1:0", "echo"))
                        .listener(TcpListener.of("dead", "127.0.0.1:0", "dead"))
                        .hook(recorder)
                        .meterRegistry(registry)
                        .ioThreads(1)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("echo")
                                        .endpoint("127.0.0.1:" + echo.getLocalPort())
                                        .build())
                                .upstream(
                                        Upstream.builder("dead").endpoint(dead).build())
                                .build())
                        .build()
                        .start()) {
            Thread.ofVirtual().start(() -> echoLoop(echo));
            InetSocketAddress addr = g.address("echo");
            try (Socket c = new Socket(addr.getAddress(), addr.getPort())) {
                c.setSoTimeout(10_000);
                c.getOutputStream().write(new byte[1000]);
                assertThat(c.getInputStream().readNBytes(1000)).hasSize(1000);
            }
            try (Socket c = new Socket()) {
                c.bind(new InetSocketAddress("127.0.0.9", 0));
                c.connect(addr);
                c.setSoTimeout(10_000);
                assertThat(c.getInputStream().read()).isEqualTo(-1);
            }
            try (Socket c = new Socket(addr.getAddress(), g.address("dead").getPort())) {
                c.setSoTimeout(10_000);
                assertThat(c.getInputStream().read()).isEqualTo(-1);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (logs.size() < 3 && System.nanoTime() < deadline) {
                TimeUnit.MILLISECONDS.sleep(20);
            }
            assertThat(logs).hasSize(3);
            TcpConnectionLog ok = logs.stream()
                    .filter(l -> l.outcome() == TcpConnectionLog.Outcome.CLOSED)
                    .findFirst()
                    .orElseThrow();
            assertThat(ok.listener()).isEqualTo("echo");
            assertThat(ok.upstream()).isEqualTo("echo");
            assertThat(ok.backend().getPort()).isEqualTo(echo.getLocalPort());
            assertThat(ok.bytesFromClient()).isEqualTo(1000);
            assertThat(ok.bytesToClient()).isEqualTo(1000);
            assertThat(logs)
                    .extracting(TcpConnectionLog::listener, TcpConnectionLog::outcome)
                    .containsExactlyInAnyOrder(
                            org.assertj.core.groups.Tuple.tuple("echo", TcpConnectionLog.Outcome.CLOSED),
                            org.assertj.core.groups.Tuple.tuple("echo", TcpConnectionLog.Outcome.REJECTED),
                            org.assertj.core.groups.Tuple.tuple("dead", TcpConnectionLog.Outcome.NO_BACKEND));

            assertThat(registry.get("torii.tcp.connections.finished")
                            .tags("listener", "echo", "outcome", "closed")
                            .counter()
                            .count())
                    .isEqualTo(1);
            assertThat(registry.get("torii.tcp.connections.finished")
                            .tags("listener", "echo", "outcome", "rejected")
                            .counter()
                            .count())
                    .isEqualTo(1);
            assertThat(registry.get("torii.tcp.connections.finished")
                            .tags("listener", "dead", "outcome", "no_backend")
                            .counter()
                            .count())
                    .isEqualTo(1);
            assertThat(registry.get("torii.tcp.bytes")
                            .tags("listener", "echo", "direction", "in")
                            .counter()
                            .count())
                    .isEqualTo(1000);
            assertThat(registry.get("torii.tcp.bytes")
                            .tags("listener", "echo", "direction", "out")
                            .counter()
                            .count())
                    .isEqualTo(1000);
            assertThat(registry.get("torii.tcp.connection.duration")
                            .tags("listener", "echo")
                            .timer()
                            .count())
                    .isEqualTo(2);
        }
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
}
