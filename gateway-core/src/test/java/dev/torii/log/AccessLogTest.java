package dev.torii.log;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.ExchangeLog;
import dev.torii.ProxyError;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AccessLogTest {
    @TempDir
    Path dir;

    private static ExchangeLog record(int status, ProxyError error, String uri) {
        return new ExchangeLog(
                1_700_000_000_123L,
                new InetSocketAddress("127.0.0.1", 51000),
                "HTTP/1.1",
                "GET",
                uri,
                "example.test",
                "api",
                "app",
                new InetSocketAddress("127.0.0.2", 8080),
                status,
                error,
                5,
                1234,
                1_500_000,
                3_250_000,
                4_000_001,
                2);
    }

    @Test
    void aJsonLineHoldsEveryFieldOfTheRecordTheTraceIdAndPluginFields() {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("tenant", "blue\"quoted\"");
        String line = AccessLogLines.json(new AccessLogEntry(
                record(502, ProxyError.UPSTREAM_RESET, "/a?b=c"),
                null,
                "curl/8",
                "0af7651916cd43dd8448eb211c80319c",
                fields));
        assertThat(line)
                .isEqualTo("{\"time\":\"2023-11-14T22:13:20.123Z\",\"client\":\"127.0.0.1\",\"method\":\"GET\","
                        + "\"host\":\"example.test\",\"path\":\"/a?b=c\",\"protocol\":\"HTTP/1.1\",\"status\":502,"
                        + "\"bytesIn\":5,\"bytesOut\":1234,\"durationMs\":4.000,\"upstreamConnectMs\":1.500,"
                        + "\"upstreamFirstByteMs\":3.250,\"route\":\"api\",\"upstream\":\"app\","
                        + "\"endpoint\":\"127.0.0.2:8080\",\"error\":\"UPSTREAM_RESET\",\"retries\":1,"
                        + "\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"userAgent\":\"curl/8\","
                        + "\"tenant\":\"blue\\\"quoted\\\"\"}");
    }

    @Test
    void aCombinedLineIsWhatNginxWritesAndEscapesQuotes() {
        String line = AccessLogLines.combined(
                new AccessLogEntry(record(200, null, "/x\"y"), "http://ref/", "agent \"7\"", null, null));
        assertThat(line)
                .isEqualTo("127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET /x\\x22y HTTP/1.1\" 200 1234"
                        + " \"http://ref/\" \"agent \\x227\\x22\"");
    }

    @Test
    void linesReachTheFileAndAClosedLogCountsWhatItDrops() throws Exception {
        Path file = dir.resolve("access.log");
        AccessLog log =
                AccessLog.builder().path(file).format(AccessLogFormat.COMBINED).build();
        assertThat(log.log(new AccessLogEntry(record(200, null, "/1"), null, null, null, null)))
                .isTrue();
        assertThat(log.log(new AccessLogEntry(record(404, null, "/2"), null, null, null, null)))
                .isTrue();
        log.onRefused(record(431, ProxyError.HEADERS_TOO_LARGE, "/3")); // refused before an exchange existed
        log.close(); // writes what is queued first
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(3);
        assertThat(lines.get(1)).contains("\"GET /2 HTTP/1.1\" 404");
        assertThat(lines.get(2)).contains("\"GET /3 HTTP/1.1\" 431");
        assertThat(log.written()).isEqualTo(3);

        assertThat(log.log(new AccessLogEntry(record(200, null, "/3"), null, null, null, null)))
                .isFalse();
        assertThat(log.dropped()).isEqualTo(1);
    }
}
