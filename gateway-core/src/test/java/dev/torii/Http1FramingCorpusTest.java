package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.FramingExpectation.End;
import dev.torii.FramingExpectation.Message;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.LlhttpCorpus;
import dev.torii.testing.RawClient;
import dev.torii.testing.RawClient.RawResponse;
import dev.torii.testing.TestUpstream;
import dev.torii.testing.TestUpstream.RecordedRequest;
import dev.torii.upstream.Upstream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sends every strict request case of llhttp's test corpus through a real gateway to a {@link TestUpstream} and checks
 * that the gateway frames each one as llhttp does: what llhttp rejects gets 400 (or the status its reason calls for)
 * and a closed connection, and never reaches the backend; what it accepts reaches the backend intact (method, target,
 * end-to-end header values, body bytes, trailers) and, when the connection stays open, a probe request sent after it
 * is answered, which shows the gateway ended the message exactly where llhttp did. A proxy that frames a message
 * differently from its backend is open to request smuggling.
 *
 * <p>{@link FramingExpectation} derives each case's expectation from its log and documents the groups left out as
 * llhttp's own choices; {@code LlhttpCorpusTest} checks the parsing and the counts.
 */
class Http1FramingCorpusTest {

    static Stream<Arguments> strictCases() {
        List<LlhttpCorpus.Case> cases = LlhttpCorpus.requestCases(LlhttpCorpus.locate());
        Map<String, LlhttpCorpus.Case> twins = FramingExpectation.strictByInput(cases);
        return cases.stream()
                .filter(c -> FramingExpectation.exclusion(c) == null)
                .map(c -> Arguments.of(c.id(), FramingExpectation.of(c, twins)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("strictCases")
    void gatewayFramesTheCaseAsLlhttpDoes(String id, FramingExpectation e) {
        try (var upstream = TestUpstream.start();
                var gateway = gatewayTo(upstream);
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(5))) {
            String context = describe(e);
            client.write(e.send());

            for (int i = 0; i < e.forwarded().size(); i++) {
                Message m = e.forwarded().get(i);
                RawResponse r = client.readResponse(m.isHead());
                if (i == 0 && e.alternative().statuses().contains(r.status())) {
                    // Refusing is allowed here too (see FramingExpectation.Alternative): then nothing may pass.
                    assertThat(client.isClosedByPeer())
                            .as("closed after refusing (%s) %s", e.alternative().reason(), context)
                            .isTrue();
                    assertThat(upstream.requests())
                            .as("nothing reaches the backend after a refusal %s", context)
                            .isEmpty();
                    return;
                }
                assertThat(r.status())
                        .as(
                                "response %d of %d (to %s %s) %s; got '%s'",
                                i + 1,
                                e.forwarded().size(),
                                m.method(),
                                m.uris().getFirst(),
                                context,
                                r)
                        .isEqualTo(200);
            }
            switch (e.end()) {
                case CLOSE, IGNORE_AFTER_CLOSE ->
                    assertThat(client.isClosedByPeer())
                            .as("the gateway closes the connection after the last response %s", context)
                            .isTrue();
                case REJECTED -> {
                    RawResponse r = client.readResponse();
                    assertThat(r.status())
                            .as(
                                    "the rejection %s; got '%s'; the backend got heads %s and requests %s",
                                    context, r, upstream.heads(), upstream.requests())
                            .isIn(e.rejectStatuses());
                    assertThat(client.isClosedByPeer())
                            .as("the connection is closed after %d %s", r.status(), context)
                            .isTrue();
                }
                case KEEP_ALIVE, PENDING -> {
                    // KEEP_ALIVE: the probe was the last forwarded message and has been answered above.
                }
            }

            List<RecordedRequest> got = upstream.requests();
            assertThat(got)
                    .as("the requests that reached the backend %s", context)
                    .hasSize(e.forwarded().size());
            for (int i = 0; i < got.size(); i++) {
                assertArrivedIntact(e.forwarded().get(i), got.get(i), "request " + (i + 1) + " " + context);
            }
            if (e.end() == End.REJECTED && !e.failureInBody()) {
                assertThat(upstream.heads())
                        .as("not even the head of the rejected request reaches the backend %s", context)
                        .hasSize(e.forwarded().size());
            }
        }
    }

    private static void assertArrivedIntact(Message want, RecordedRequest got, String context) {
        assertThat(got.method()).as("method of %s", context).isEqualTo(want.method());
        assertThat(got.uri()).as("target of %s", context).isIn(want.uris());
        if (want.host() != null) {
            assertThat(got.headers("host")).as("Host of %s", context).containsExactly(want.host());
        }
        assertThat(joined(got.headers(), want.headers()))
                .as("end-to-end header fields of %s", context)
                .isEqualTo(joined(want.headers(), want.headers()));
        assertThat(RawClient.escape(new String(got.body(), StandardCharsets.ISO_8859_1)))
                .as("body of %s", context)
                .isEqualTo(RawClient.escape(new String(want.body(), StandardCharsets.ISO_8859_1)));
        assertThat(joined(got.trailers(), want.trailers()))
                .as("trailer fields of %s", context)
                .isEqualTo(joined(want.trailers(), want.trailers()));
    }

    /**
     * The values of each field named in {@code names}, joined by ", " per name (a proxy may combine repeated fields,
     * RFC 9110 section 5.3), names lower-cased.
     */
    private static Map<String, String> joined(
            List<Map.Entry<String, String>> fields, List<Map.Entry<String, String>> names) {
        var wanted = names.stream()
                .map(n -> n.getKey().toLowerCase(Locale.ROOT))
                .distinct()
                .toList();
        var out = new LinkedHashMap<String, String>();
        for (String name : wanted) {
            out.put(
                    name,
                    fields.stream()
                            .filter(f -> f.getKey().equalsIgnoreCase(name))
                            .map(Map.Entry::getValue)
                            .collect(Collectors.joining(", ")));
        }
        return out;
    }

    private static String describe(FramingExpectation e) {
        return "[" + e.why() + "; sent: '" + RawClient.escape(new String(e.send(), StandardCharsets.ISO_8859_1))
                + "'; expected: " + e.forwarded().size() + " forwarded, then " + e.end()
                + (e.end() == End.REJECTED ? " with " + e.rejectStatuses() : "") + "]";
    }

    static Gateway gatewayTo(TestUpstream upstream) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(1)
                .limits(Limits.builder().shutdownTimeout(Duration.ofSeconds(1)).build())
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .build()
                .start();
    }
}
