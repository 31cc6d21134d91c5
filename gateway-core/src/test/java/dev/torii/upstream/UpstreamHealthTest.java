package dev.torii.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.NginxBackend;
import dev.torii.testing.RawClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Endpoint health end to end: two real nginx endpoints on loopback, one stopped under a bounded load and later
 * started again on the same port, with outlier detection and active health checks.
 */
class UpstreamHealthTest {
    private static final Logger log = LoggerFactory.getLogger(UpstreamHealthTest.class);
    private static final String POST = "POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    private static final String GET = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    private static final int CLIENTS = 4;
    private static final int REQUESTS_PER_CLIENT = 40;

    private NginxBackend a;
    private NginxBackend b;

    @AfterEach
    void stopBackends() {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
    }

    @Test
    void withOutlierDetectionNoRequestFailsAfterTheFirstFewOnceAnEndpointIsKilled() throws Exception {
        a = NginxBackend.start();
        b = NginxBackend.start();
        int withEjection;
        int without;
        try (Gateway gateway =
                gateway(upstream(new OutlierDetection(3, Duration.ofSeconds(60), Duration.ofSeconds(60), 50), null))) {
            warmUp(gateway);
            b.close();
            b = null;
            withEjection = failedPosts(gateway);
            assertThat(gateway.upstreamHealth().get(1).ejected())
                    .as("the killed endpoint is ejected")
                    .isTrue();
            assertThat(gateway.upstreamHealth().get(0).available()).isTrue();
        }
        b = NginxBackend.start();
        try (Gateway gateway = gateway(upstream(null, null))) {
            warmUp(gateway);
            b.close();
            b = null;
            without = failedPosts(gateway);
        }
        log.info(
                "failed POSTs of {} after an endpoint was killed: {} with outlier detection, {} without",
                CLIENTS * REQUESTS_PER_CLIENT,
                withEjection,
                without);

        // Three failures in a row eject it; requests already on their way to it when it is ejected may fail too.
        assertThat(withEjection).as("failed POSTs with outlier detection").isBetween(1, 3 + CLIENTS);
        assertThat(without)
                .as("failed POSTs without outlier detection (round-robin keeps sending half to the dead one)")
                .isGreaterThan(CLIENTS * REQUESTS_PER_CLIENT / 4);
    }

    @Test
    void activeChecksTakeAKilledEndpointOutAndBringItBackAfterTheHealthyThreshold() throws Exception {
        a = NginxBackend.start();
        b = NginxBackend.start();
        int port = b.port();
        HealthCheck check = HealthCheck.of("/")
                .every(Duration.ofMillis(100), Duration.ofMillis(100))
                .thresholds(3, 2);
        try (Gateway gateway = gateway(upstream(null, check))) {
            warmUp(gateway);
            b.close();
            b = null;
            await(
                    "the killed endpoint is marked unhealthy",
                    () -> !gateway.upstreamHealth().get(1).healthy());
            assertThat(failedPosts(gateway)).as("POSTs failed while it is out").isZero();

            b = NginxBackend.start(NginxBackend.Options.defaults(), port);
            await(
                    "the endpoint is healthy again",
                    () -> gateway.upstreamHealth().get(1).healthy());
            int before = b.accessLog().size();
            assertThat(failedPosts(gateway)).isZero();

            assertThat(b.accessLog().size() - before)
                    .as("requests the endpoint got back (health checks add some)")
                    .isGreaterThanOrEqualTo(CLIENTS * REQUESTS_PER_CLIENT / 2);
        }
    }

    @Test
    void aRoutingTableSwapKeepsEndpointHealthAndPooledConnections() throws Exception {
        a = NginxBackend.start();
        b = NginxBackend.start();
        OutlierDetection od = new OutlierDetection(1, Duration.ofSeconds(60), Duration.ofSeconds(60), 50);
        try (Gateway gateway = gateway(upstream(od, null))) {
            String deadB = b.endpoint();
            warmUp(gateway);
            b.close();
            b = null;
            failedPosts(gateway);
            assertThat(gateway.upstreamHealth().get(1).ejected()).isTrue();
            long opened = gateway.stats().upstreamConnectionsOpened();

            // A reload that changes the upstream (a longer response timeout) and the routes.
            gateway.routingTable(RoutingTable.builder()
                    .upstream(Upstream.builder("app")
                            .endpoint(a.endpoint())
                            .endpoint(deadB)
                            .outlierDetection(od)
                            .responseTimeout(Duration.ofSeconds(30))
                            .build())
                    .route(Route.builder("all").upstream("app").build())
                    .route(Route.builder("other")
                            .pathPrefix("/other")
                            .upstream("app")
                            .build())
                    .build());

            assertThat(gateway.upstreamHealth().get(1).ejected())
                    .as("the ejection survives the swap")
                    .isTrue();
            // One client at a time first: a kept pool has idle connections for it, a rebuilt one would open one.
            // (Concurrent clients may need one more connection than the load before the swap left idle.)
            warmUp(gateway);
            assertThat(gateway.stats().upstreamConnectionsOpened() - opened)
                    .as("connections opened after the swap: the pool of the kept endpoint was kept")
                    .isZero();
            assertThat(failedPosts(gateway))
                    .as("no request goes to the ejected endpoint")
                    .isZero();
        }
    }

    private Upstream upstream(OutlierDetection od, HealthCheck check) {
        return Upstream.builder("app")
                .endpoint(a.endpoint())
                .endpoint(b.endpoint())
                .connectTimeout(Duration.ofSeconds(1))
                .outlierDetection(od)
                .healthCheck(check)
                .build();
    }

    private static Gateway gateway(Upstream upstream) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(upstream)
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .limits(Limits.builder().shutdownTimeout(Duration.ofSeconds(1)).build())
                .build()
                .start();
    }

    /** Both endpoints served keep-alive traffic, so each has pooled connections. */
    private static void warmUp(Gateway gateway) {
        try (var client = new RawClient(gateway.address("web"), Duration.ofSeconds(5))) {
            for (int i = 0; i < 8; i++) {
                assertThat(client.write(GET).readResponse().status()).isEqualTo(200);
            }
        }
    }

    /** {@link #CLIENTS} keep-alive clients each sending {@link #REQUESTS_PER_CLIENT} POSTs: the failed ones. */
    private static int failedPosts(Gateway gateway) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                results.add(pool.submit((Callable<Integer>) () -> {
                    int failed = 0;
                    RawClient client = new RawClient(gateway.address("web"), Duration.ofSeconds(5));
                    try {
                        for (int i = 0; i < REQUESTS_PER_CLIENT; i++) {
                            int status;
                            try {
                                status = client.write(POST).readResponse().status();
                            } catch (RuntimeException e) {
                                status = -1;
                            }
                            if (status != 200) {
                                failed++;
                                client.close();
                                client = new RawClient(gateway.address("web"), Duration.ofSeconds(5));
                            }
                        }
                    } finally {
                        client.close();
                    }
                    return failed;
                }));
            }
            int failed = 0;
            for (Future<Integer> f : results) {
                failed += f.get();
            }
            return failed;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting until " + what).isLessThan(deadline);
            Thread.sleep(20); // the health checks run on the gateway's own schedule; there is no event to wait on
        }
    }
}
