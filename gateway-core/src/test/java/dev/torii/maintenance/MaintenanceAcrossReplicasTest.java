package dev.torii.maintenance;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RedisServer;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two gateways (replicas) sharing one maintenance switch through a real redis-server started by the test, which stops
 * and restarts it for the failure modes. Waits are bounded polls, never timing assertions.
 */
class MaintenanceAcrossReplicasTest {
    private static final String KEY = "torii:maintenance:test";
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final TestUpstream upstream = closeLater(TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE));
    private RedisServer redis = RedisServer.start();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        redis.close();
        client.close();
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    private MaintenanceMode replicaSwitch() {
        return MaintenanceMode.builder()
                .redis(redis.hostPort(), KEY)
                .pollInterval(Duration.ofMillis(50))
                .redisReconnectDelay(Duration.ofMillis(100))
                .redisTimeout(Duration.ofMillis(500))
                .build();
    }

    private Gateway replica(MaintenanceMode m) {
        return closeLater(Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("billing")
                                .pathPrefix("/billing")
                                .upstream("app")
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .maintenance(m)
                .ioThreads(1)
                .build()
                .start());
    }

    private int status(Gateway g, String path) throws Exception {
        return client.send(
                        HttpRequest.newBuilder(URI.create(
                                        "http://127.0.0.1:" + g.address("web").getPort() + path))
                                .timeout(Duration.ofSeconds(20))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    /** Polls {@code condition} for up to 10 s (a bound for a loaded machine, not a latency assertion). */
    private static boolean await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
        return condition.getAsBoolean();
    }

    @Test
    void switchingOneReplicaSwitchesTheOtherThroughTheRedisKeyAndChannel() throws Exception {
        MaintenanceMode a = replicaSwitch();
        MaintenanceMode b = replicaSwitch();
        Gateway ga = replica(a);
        Gateway gb = replica(b);
        assertThat(await(() -> a.stats().redisConnected() && b.stats().redisConnected()))
                .as("both replicas connect to Redis")
                .isTrue();
        assertThat(status(gb, "/x")).isEqualTo(200);

        a.enable(MaintenanceSource.ADMIN);
        assertThat(await(b::enabled)).as("the other replica switches on").isTrue();
        assertThat(status(gb, "/x")).isEqualTo(503);
        assertThat(RedisServer.cli(redis.address(), null, "GET", KEY).text()).isEqualTo("on");

        b.disable(MaintenanceSource.ADMIN);
        assertThat(await(() -> !a.enabled()))
                .as("and back off, from either side")
                .isTrue();
        assertThat(status(ga, "/x")).isEqualTo(200);

        a.enableRoute("billing", MaintenanceSource.ADMIN);
        assertThat(await(() -> b.routesSwitchedOn().contains("billing")))
                .as("route maintenance is shared too")
                .isTrue();
        assertThat(status(gb, "/billing/invoices")).isEqualTo(503);
        assertThat(status(gb, "/x")).as("other routes are served").isEqualTo(200);
        assertThat(b.stats().switches()).isGreaterThanOrEqualTo(3);
    }

    @Test
    void whileRedisIsDownTheLastKnownStateHoldsAndAfterARestartTheReplicasResync() throws Exception {
        MaintenanceMode a = replicaSwitch();
        MaintenanceMode b = replicaSwitch();
        replica(a);
        Gateway gb = replica(b);
        assertThat(await(() -> a.stats().redisConnected() && b.stats().redisConnected()))
                .isTrue();
        a.enable(MaintenanceSource.ADMIN);
        assertThat(await(b::enabled)).isTrue();

        redis.stop();
        assertThat(await(() -> !a.stats().redisConnected() && !b.stats().redisConnected()))
                .as("both notice the outage")
                .isTrue();
        assertThat(b.stats().redisOutages()).isEqualTo(1);
        assertThat(b.enabled()).as("the last known state stays in force").isTrue();
        assertThat(status(gb, "/x")).isEqualTo(503);

        // Switched off on one replica during the outage: the other cannot hear it yet...
        a.disable(MaintenanceSource.ADMIN);
        assertThat(b.enabled()).isTrue();

        // ...and hears it once Redis is back (empty: no persistence), as A writes its newer state on the resync.
        redis = redis.restart();
        assertThat(await(() -> !b.enabled())).as("B resyncs after the restart").isTrue();
        assertThat(await(() -> a.stats().redisConnected() && b.stats().redisConnected()))
                .isTrue();
        assertThat(status(gb, "/x")).isEqualTo(200);
        assertThat(RedisServer.cli(redis.address(), null, "GET", KEY).text()).isEqualTo("off");
    }

    @Test
    void aReplicaThatStartsLaterReadsTheSharedStateFromTheKey() throws Exception {
        assertThat(RedisServer.cli(redis.address(), null, "SET", KEY, "on routes=billing")
                        .text())
                .isEqualTo("OK");
        MaintenanceMode late = replicaSwitch();
        Gateway g = replica(late);
        assertThat(await(late::enabled)).isTrue();
        assertThat(late.routesSwitchedOn()).containsExactly("billing");
        assertThat(status(g, "/x")).isEqualTo(503);
    }

    @Test
    void withRedisDownAtStartTheConfiguredStateHoldsUntilRedisAnswers() throws Exception {
        redis.stop();
        MaintenanceMode m = MaintenanceMode.builder()
                .enabled(true)
                .redis(redis.hostPort(), KEY)
                .pollInterval(Duration.ofMillis(50))
                .redisReconnectDelay(Duration.ofMillis(100))
                .build();
        Gateway g = replica(m);
        assertThat(await(() -> m.stats().redisOutages() == 1)).isTrue();
        assertThat(status(g, "/x")).isEqualTo(503);
        redis = redis.restart();
        assertThat(await(() -> m.stats().redisConnected())).isTrue();
        assertThat(RedisServer.cli(redis.address(), null, "GET", KEY).text())
                .as("an empty key is seeded with the replica's state")
                .isEqualTo("on");
    }
}
