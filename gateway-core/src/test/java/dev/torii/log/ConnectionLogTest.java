package dev.torii.log;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpConnectionLog;
import dev.torii.tcp.TcpListener;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The connection log: one access-log line per closed TCP listener connection, JSON or nginx stream's line. */
class ConnectionLogTest {
    @TempDir
    Path dir;

    private static final TcpConnectionLog RECORD = new TcpConnectionLog(
            "tls",
            new InetSocketAddress("192.0.2.7", 40000),
            "a.example",
            "upstreamA",
            new InetSocketAddress("10.0.0.5", 8443),
            Instant.parse("2026-12-03T10:15:30Z"),
            Duration.ofMillis(1234),
            517,
            4096,
            TcpConnectionLog.Outcome.CLOSED);

    @Test
    void aJsonLineHoldsTheConnectionsFields() {
        assertThat(AccessLogLines.format(AccessLogFormat.JSON, RECORD))
                .isEqualTo("{\"time\":\"2026-12-03T10:15:30Z\",\"type\":\"tcp\",\"listener\":\"tls\","
                        + "\"client\":\"192.0.2.7\",\"sni\":\"a.example\",\"upstream\":\"upstreamA\","
                        + "\"endpoint\":\"10.0.0.5:8443\",\"outcome\":\"closed\",\"bytesIn\":517,\"bytesOut\":4096,"
                        + "\"durationMs\":1234.000}");
    }

    @Test
    void aCombinedLineIsNginxStreamsWithItsStatuses() {
        assertThat(AccessLogLines.format(AccessLogFormat.COMBINED, RECORD))
                .isEqualTo("192.0.2.7 [03/Dec/2026:10:15:30 +0000] TCP 200 4096 517 1.234 \"10.0.0.5:8443\"");
        var rejected = new TcpConnectionLog(
                "tls",
                RECORD.client(),
                null,
                null,
                null,
                RECORD.start(),
                Duration.ZERO,
                0,
                0,
                TcpConnectionLog.Outcome.REJECTED);
        assertThat(AccessLogLines.format(AccessLogFormat.COMBINED, rejected))
                .isEqualTo("192.0.2.7 [03/Dec/2026:10:15:30 +0000] TCP 403 0 0 0.000 \"-\"");
    }

    @Test
    void aGatewaysTcpConnectionsReachTheAccessLogFile() throws Exception {
        Path file = dir.resolve("access.log");
        AccessLog accessLog = AccessLog.builder().path(file).build();
        try (ServerSocket echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                Gateway g = Gateway.builder()
                        .listener(TcpListener.of("echo", "127.0.0.1:0", "echo"))
                        .hook(accessLog)
                        .ioThreads(1)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("echo")
                                        .endpoint("127.0.0.1:" + echo.getLocalPort())
                                        .build())
                                .build())
                        .build()
                        .start()) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = echo.accept()) {
                    s.getInputStream().transferTo(s.getOutputStream());
                } catch (IOException e) {
                    // peer gone
                }
            });
            try (Socket c = new Socket(
                    InetAddress.getLoopbackAddress(), g.address("echo").getPort())) {
                c.setSoTimeout(10_000);
                c.getOutputStream().write("ping".getBytes());
                assertThat(c.getInputStream().readNBytes(4)).isEqualTo("ping".getBytes());
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (accessLog.written() + accessLog.dropped() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        } finally {
            accessLog.close();
        }
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).singleElement().satisfies(l -> assertThat(l)
                .startsWith("{\"time\":")
                .contains("\"type\":\"tcp\",\"listener\":\"echo\",\"client\":\"127.0.0.1\"")
                .contains("\"upstream\":\"echo\"")
                .contains("\"outcome\":\"closed\",\"bytesIn\":4,\"bytesOut\":4"));
    }
}
