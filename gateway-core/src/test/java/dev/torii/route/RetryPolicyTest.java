package dev.torii.route;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A route's retry policy end to end: a bad endpoint (502, a closed connection, no answer) beside a good one, both
 * {@link TestUpstream}s on loopback, so the test sees every attempt that reached each.
 */
class RetryPolicyTest {
    private static final String GET = "GET /r HTTP/1.1\r\nHost: t\r\n\r\n";
    private static final TestUpstream.Handler BAD_GATEWAY =
            (req, res) -> res.respond(502, List.of(Map.entry("Content-Type", "text/plain")), "bad\n");

    @Test
    void aRetryableStatusIsRetriedOnTheOtherEndpoint() {
        try (var bad = TestUpstream.start(BAD_GATEWAY);
                var good = TestUpstream.start();
                var gateway = gateway(bad, good, RetryPolicy.of(2))) {
            List<Integer> statuses = send(gateway, GET, 10);

            assertThat(statuses).containsOnly(200);
            assertThat(bad.requests()).as("attempts on the bad endpoint").hasSizeGreaterThanOrEqualTo(5);
            assertThat(good.requests()).hasSize(10);
        }
    }

    @Test
    void withoutARetryPolicyTheStatusReachesTheClient() {
        try (var bad = TestUpstream.start(BAD_GATEWAY);
                var good = TestUpstream.start();
                var gateway = gateway(bad, good, null)) {
            assertThat(send(gateway, GET, 10)).containsOnly(200, 502).contains(502);
        }
    }

    @Test
    void aRequestWithABodyOrANonIdempotentMethodIsNotRetried() {
        try (var bad = TestUpstream.start(BAD_GATEWAY);
                var good = TestUpstream.start();
                var gateway = gateway(bad, good, RetryPolicy.of(3))) {
            List<Integer> posts = send(gateway, "POST /r HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 6);
            List<Integer> puts = send(gateway, "PUT /r HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi", 6);

            assertThat(posts).contains(502);
            assertThat(puts).contains(502);
            assertThat(bad.requests().size() + good.requests().size())
                    .as("one attempt each")
                    .isEqualTo(12);
        }
    }

    @Test
    void aConnectionClosedBeforeTheResponseHeadIsRetriedOnTheOtherEndpoint() {
        try (var bad = TestUpstream.start((req, res) -> res.closeConnection());
                var good = TestUpstream.start();
                var gateway = gateway(bad, good, RetryPolicy.of(2))) {
            assertThat(send(gateway, GET, 10)).containsOnly(200);
            assertThat(bad.requests()).hasSizeGreaterThanOrEqualTo(5);
        }
    }

    @Test
    void anAttemptOverThePerTryTimeoutIsAbandonedForAnotherEndpoint() {
        try (var silent = TestUpstream.start((req, res) -> {});
                var good = TestUpstream.start();
                var gateway = gateway(silent, good, RetryPolicy.of(2).perTryTimeout(Duration.ofMillis(200)))) {
            assertThat(send(gateway, GET, 4)).containsOnly(200);
            assertThat(silent.requests()).hasSizeGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void retriesStopAtTheAttemptLimitAndTheLastAnswerGoesToTheClient() {
        try (var bad = TestUpstream.start(BAD_GATEWAY);
                var worse = TestUpstream.start(BAD_GATEWAY);
                var gateway = gateway(bad, worse, RetryPolicy.of(3))) {
            assertThat(send(gateway, GET, 4)).containsOnly(502);
            assertThat(bad.requests().size() + worse.requests().size())
                    .as("three attempts for each of four requests")
                    .isEqualTo(12);
        }
    }

    @Test
    void aSpentRetryBudgetLetsTheFailureThrough() {
        try (var bad = TestUpstream.start(BAD_GATEWAY);
                var good = TestUpstream.start();
                var gateway = gateway(bad, good, RetryPolicy.of(2).budget(0, 0))) {
            assertThat(send(gateway, GET, 10)).contains(502);
            assertThat(bad.requests().size() + good.requests().size()).isEqualTo(10);
        }
    }

    @Test
    void onlyTheChosenStatusesAreRetried() {
        try (var bad = TestUpstream.start(BAD_GATEWAY);
                var good = TestUpstream.start();
                var gateway = gateway(bad, good, RetryPolicy.of(2).onStatuses(java.util.Set.of(503, 504)))) {
            assertThat(send(gateway, GET, 10)).contains(502);
        }
    }

    private static Gateway gateway(TestUpstream first, TestUpstream second, RetryPolicy retry) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(first.endpoint())
                                .endpoint(second.endpoint())
                                .responseTimeout(Duration.ofSeconds(5))
                                .build())
                        .route(Route.builder("all").upstream("app").retry(retry).build())
                        .build())
                .limits(Limits.builder().shutdownTimeout(Duration.ofSeconds(1)).build())
                .build()
                .start();
    }

    /** Sends {@code request} {@code n} times on one keep-alive connection (a new one after a failure): the statuses. */
    private static List<Integer> send(Gateway gateway, String request, int n) {
        List<Integer> statuses = new ArrayList<>();
        RawClient client = new RawClient(gateway.address("web"), Duration.ofSeconds(5));
        try {
            for (int i = 0; i < n; i++) {
                int status = client.write(request).readResponse().status();
                statuses.add(status);
                if (status != 200) {
                    client.close();
                    client = new RawClient(gateway.address("web"), Duration.ofSeconds(5));
                }
            }
        } finally {
            client.close();
        }
        return statuses;
    }
}
