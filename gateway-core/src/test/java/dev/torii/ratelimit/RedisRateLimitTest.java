package dev.torii.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.ErrorResponder;
import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.ratelimit.RateLimitDecision.Outcome;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RedisServer;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Cluster-wide limits against a real redis-server started by the test: two gateways sharing one limit, and Redis
 * stopped and restarted under a policy that fails open and one that fails closed.
 */
class RedisRateLimitTest {
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final TestUpstream upstream = closeLater(TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE));
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @AfterEach
    void closeAll() throws Exception {
        client.close();
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    private RedisStore store(RedisServer redis) {
        return closeLater(RedisStore.builder().address(redis.hostPort()).build());
    }

    private Gateway gateway(RateLimiter limiter) {
        return closeLater(Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("api").upstream("app").build())
                        .build())
                .hook(limiter.hook(ErrorResponder.plainText()))
                .ioThreads(1)
                .build()
                .start());
    }

    private int get(Gateway g) throws Exception {
        return client.send(
                        HttpRequest.newBuilder(URI.create(
                                        "http://127.0.0.1:" + g.address("web").getPort() + "/x"))
                                .timeout(Duration.ofSeconds(20))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    private static RateLimitPolicy.Builder redisPolicy(String name) {
        return RateLimitPolicy.builder(name)
                .store(RateLimitPolicy.Store.REDIS)
                .storeTimeout(Duration.ofSeconds(2)); // a slow CI machine is not a Redis failure here
    }

    @Test
    void twoGatewaysSharingARedisLimitAdmitTogetherNoMoreThanTheLimitPlusBurst() throws Exception {
        RedisServer redis = closeLater(RedisServer.start());
        // 1 per hour with a burst of 10: whatever the test's pace, the two gateways may admit 10 in all.
        RateLimitPolicy policy =
                redisPolicy("shared").limit(1, Duration.ofHours(1), 10).build();
        RateLimiter a = RateLimiter.builder(policy).store(store(redis)).build();
        RateLimiter b = RateLimiter.builder(policy).store(store(redis)).build();
        Gateway ga = gateway(a);
        Gateway gb = gateway(b);
        int admitted = 0;
        for (int i = 0; i < 20; i++) {
            admitted += get(ga) == 200 ? 1 : 0;
            admitted += get(gb) == 200 ? 1 : 0;
        }
        assertThat(admitted).isEqualTo(10);
        assertThat(a.stats().allowed() + b.stats().allowed()).isEqualTo(10);
        assertThat(a.stats().allowed()).isPositive();
        assertThat(b.stats().allowed()).isPositive();
        assertThat(a.stats().limited() + b.stats().limited()).isEqualTo(30);
        assertThat(a.stats().storeFailures() + b.stats().storeFailures()).isZero();
        assertThat(RedisServer.cli(redis.address(), null, "KEYS", "torii:rl:shared:*")
                        .text())
                .isEqualTo("torii:rl:shared:127.0.0.1");
    }

    @Test
    void whenRedisStopsAnOpenPolicyDecidesLocallyAndUsesRedisAgainOnceItIsBack() throws Exception {
        RedisServer redis = RedisServer.start();
        int port = redis.port();
        RedisStore store = store(redis);
        RateLimiter limiter = RateLimiter.builder(redisPolicy("open")
                        .limit(1, Duration.ofHours(1), 3)
                        .onStoreFailure(RateLimitPolicy.StoreFailure.OPEN)
                        .build())
                .store(store)
                .build();
        assertThat(decide(limiter, "k")).isEqualTo(Outcome.ALLOWED);
        assertThat(limiter.stats().storeAvailable()).isTrue();

        redis.close();
        // Local buckets take over: a fresh local bucket of 3, then refusals, all without Redis.
        List<Outcome> down = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            down.add(decide(limiter, "k"));
        }
        assertThat(down)
                .containsExactly(Outcome.ALLOWED, Outcome.ALLOWED, Outcome.ALLOWED, Outcome.LIMITED, Outcome.LIMITED);
        assertThat(limiter.stats().storeFailures()).isEqualTo(5);
        assertThat(limiter.stats().storeAvailable()).isFalse();

        RedisServer again = closeLater(RedisServer.startOnPort(port));
        // Lettuce reconnects by itself; bounded wait for the first answer from the new (empty) Redis.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!limiter.stats().storeAvailable() && System.nanoTime() < deadline) {
            decide(limiter, "other");
            TimeUnit.MILLISECONDS.sleep(50);
        }
        assertThat(limiter.stats().storeAvailable()).isTrue();
        // The new Redis holds a fresh bucket for "k": its burst of 3 again, counted in Redis, not locally.
        List<Outcome> back = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            back.add(decide(limiter, "k"));
        }
        assertThat(back).containsExactly(Outcome.ALLOWED, Outcome.ALLOWED, Outcome.ALLOWED, Outcome.LIMITED);
        assertThat(RedisServer.cli(again.address(), null, "EXISTS", "torii:rl:open:k")
                        .text())
                .isEqualTo("1");
    }

    @Test
    void whenRedisStopsAClosedPolicyAnswers503AndServesAgainOnceItIsBack() throws Exception {
        RedisServer redis = RedisServer.start();
        int port = redis.port();
        RateLimiter limiter = RateLimiter.builder(redisPolicy("closed")
                        .limit(100, Duration.ofSeconds(1))
                        .onStoreFailure(RateLimitPolicy.StoreFailure.CLOSED)
                        .build())
                .store(store(redis))
                .build();
        Gateway g = gateway(limiter);
        assertThat(get(g)).isEqualTo(200);

        redis.close();
        assertThat(get(g)).isEqualTo(503);
        assertThat(get(g)).isEqualTo(503);
        assertThat(limiter.stats().storeRejected()).isEqualTo(2);
        assertThat(limiter.stats().storeFailures()).isEqualTo(2);

        closeLater(RedisServer.startOnPort(port));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int status;
        do {
            status = get(g);
            if (status != 200) {
                TimeUnit.MILLISECONDS.sleep(50);
            }
        } while (status != 200 && System.nanoTime() < deadline);
        assertThat(status).isEqualTo(200);
        assertThat(limiter.stats().storeAvailable()).isTrue();
    }

    @Test
    void aRedisThatDoesNotAnswerWithinTheTimeoutIsAFailure() throws Exception {
        // A listening socket that never answers: connects, then silence.
        try (var silent = new java.net.ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            RedisStore store = closeLater(RedisStore.builder()
                    .address("127.0.0.1:" + silent.getLocalPort())
                    .build());
            RateLimiter limiter = RateLimiter.builder(RateLimitPolicy.builder("slow")
                            .store(RateLimitPolicy.Store.REDIS)
                            .storeTimeout(Duration.ofMillis(50))
                            .limit(5, Duration.ofSeconds(1))
                            .onStoreFailure(RateLimitPolicy.StoreFailure.CLOSED)
                            .build())
                    .store(store)
                    .build();
            assertThat(decide(limiter, "k")).isEqualTo(Outcome.STORE_UNAVAILABLE);
            assertThat(limiter.stats().storeFailures()).isEqualTo(1);
        }
    }

    private static Outcome decide(RateLimiter limiter, String key) {
        return limiter.acquire(key).toCompletableFuture().join().outcome();
    }
}
