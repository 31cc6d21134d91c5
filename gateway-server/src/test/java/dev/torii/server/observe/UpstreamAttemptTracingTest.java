package dev.torii.server.observe;

import static dev.torii.server.observe.ObservabilityServerTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.ToriiServer;
import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.NginxBackend;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A route with a retry policy over a dead endpoint and nginx: each upstream attempt is a CLIENT span of its own, with
 * its attempt number, endpoint and outcome, and the traceparent nginx receives names the attempt that reached it.
 */
class UpstreamAttemptTracingTest {
    @TempDir
    Path dir;

    @Test
    void eachUpstreamAttemptIsAClientSpanAndTheTraceparentSentIsThatAttempts() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort(); // closed again: connects are refused
        }
        HttpClient http =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (NginxBackend nginx = NginxBackend.start();
                OtlpReceiver otlp = new OtlpReceiver()) {
            Path config = Files.writeString(
                    dir.resolve("torii.yaml"), """
                    listeners:
                      - { name: web, protocol: http, address: "127.0.0.1:0" }
                    routes:
                      - name: api
                        match: { pathPrefix: / }
                        upstream: pair
                        retry: { attempts: 2, on: [ connect-failure ] }
                    upstreams:
                      pair: { endpoints: [ "127.0.0.1:%d", "%s" ], loadBalancer: round-robin }
                    tracing: { endpoint: "%s", samplingRatio: 1, serviceName: torii-test }
                    """.formatted(dead, nginx.endpoint(), otlp.endpoint()));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(config))) {
                String web =
                        "http://127.0.0.1:" + server.gateway().address("web").getPort();
                // Round robin over two endpoints: of two requests, one starts on the dead endpoint and is retried.
                List<String> traces = new java.util.ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    String trace = HexFormat.of()
                                    .toHexDigits(ThreadLocalRandom.current().nextLong())
                            + HexFormat.of()
                                    .toHexDigits(ThreadLocalRandom.current().nextLong());
                    traces.add(trace);
                    HttpResponse<String> r = http.send(
                            HttpRequest.newBuilder(URI.create(web + "/?attempt=" + i))
                                    .header("traceparent", "00-" + trace + "-b7ad6b7169203331-01")
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertThat(r.statusCode()).isEqualTo(200);
                }
                // Spans come in batches: wait for a trace with two attempts rather than read the first batch.
                await(
                        () -> traces.stream().anyMatch(t -> clientSpans(otlp, t).size() == 2),
                        "a request with two attempts at the OTLP receiver: " + otlp.spans() + " " + otlp.errors() + " "
                                + otlp.contentTypes());
                String retriedTrace = traces.stream()
                        .filter(t -> clientSpans(otlp, t).size() == 2)
                        .findFirst()
                        .orElseThrow();
                await(
                        () -> otlp.spans().stream().anyMatch(s -> s.traceId().equals(retriedTrace) && s.kind() == 2),
                        "the server span of the retried request");

                String trace = retriedTrace;
                OtlpReceiver.Span serverSpan = otlp.spans().stream()
                        .filter(s -> s.traceId().equals(trace) && s.kind() == 2)
                        .findFirst()
                        .orElseThrow();
                List<OtlpReceiver.Span> attempts = clientSpans(otlp, trace);
                OtlpReceiver.Span first = attempts.get(0);
                OtlpReceiver.Span second = attempts.get(1);
                assertThat(first.attributes())
                        .containsEntry("torii.attempt", "1")
                        .containsEntry("torii.endpoint", "127.0.0.1:" + dead)
                        .containsEntry("error.type", "CONNECT_FAILED")
                        .doesNotContainKey("http.response.status_code");
                assertThat(first.statusCode()).isEqualTo(2); // ERROR
                assertThat(second.attributes())
                        .containsEntry("torii.attempt", "2")
                        .containsEntry("torii.endpoint", nginx.endpoint())
                        .containsEntry("http.request.resend_count", "1")
                        .containsEntry("http.response.status_code", "200")
                        .containsEntry("torii.upstream", "pair");
                assertThat(second.statusCode()).isNotEqualTo(2);
                assertThat(attempts).allMatch(s -> s.parentSpanId().equals(serverSpan.spanId()));

                // nginx saw the second attempt's span as its parent, not the first's nor the server span.
                await(
                        () -> nginx.accessLog().stream().anyMatch(l -> l.contains("tp=00-" + trace)),
                        "nginx logged the retried request");
                String uri = nginx.accessLog().stream()
                        .filter(l -> l.contains("tp=00-" + trace))
                        .findFirst()
                        .orElseThrow();
                Matcher tp = Pattern.compile("tp=00-([0-9a-f]{32})-([0-9a-f]{16})-01")
                        .matcher(uri);
                assertThat(tp.find()).isTrue();
                assertThat(tp.group(2)).isEqualTo(second.spanId());
            }
        }
    }

    /** The CLIENT spans of {@code trace}, by attempt number. */
    private static List<OtlpReceiver.Span> clientSpans(OtlpReceiver otlp, String trace) {
        return otlp.spans().stream()
                .filter(s -> s.traceId().equals(trace) && s.kind() == 3)
                .sorted(Comparator.comparing(
                        s -> Integer.parseInt(s.attributes().getOrDefault("torii.attempt", "0"))))
                .toList();
    }
}
