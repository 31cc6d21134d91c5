package dev.torii.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.ExchangeLog;
import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.ProxyError;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** Gateway.Builder.meterRegistry: request series from the LOG phase and GatewayStats read at scrape time. */
class GatewayMetricsTest {
    @Test
    void anEmbeddersRegistryGetsRequestSeriesByRouteAndStatusClassAndGatewayCounters() throws Exception {
        var registry = new SimpleMeterRegistry();
        try (TestUpstream upstream = TestUpstream.start();
                Gateway gateway = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("app")
                                        .endpoint(upstream.endpoint())
                                        .build())
                                .route(Route.builder("api")
                                        .pathPrefix("/api")
                                        .upstream("app")
                                        .build())
                                .build())
                        .meterRegistry(registry)
                        .ioThreads(1)
                        .build()
                        .start()) {
            HttpClient http =
                    HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            String base = "http://127.0.0.1:" + gateway.address("web").getPort();
            for (String path : new String[] {"/api/a", "/api/b", "/nowhere"}) {
                http.send(
                        HttpRequest.newBuilder(URI.create(base + path)).build(), HttpResponse.BodyHandlers.ofString());
            }
            // LOG hooks run after the response went out: wait for the third record.
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (registry.find("torii.requests").counters().stream()
                                    .mapToDouble(c -> c.count())
                                    .sum()
                            < 3
                    && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(registry.get("torii.requests")
                            .tags(
                                    "route",
                                    "api",
                                    "upstream",
                                    "app",
                                    "status",
                                    "2xx",
                                    "protocol",
                                    "1.1",
                                    "error",
                                    "none")
                            .counter()
                            .count())
                    .isEqualTo(2);
            assertThat(registry.get("torii.requests")
                            .tags("route", "none", "status", "4xx", "error", "NO_ROUTE")
                            .counter()
                            .count())
                    .isEqualTo(1);
            assertThat(registry.get("torii.request.duration")
                            .tag("route", "api")
                            .timer()
                            .count())
                    .isEqualTo(2);
            assertThat(registry.get("torii.upstream.response.duration")
                            .tag("upstream", "app")
                            .timer()
                            .count())
                    .isEqualTo(2);

            // Micrometer holds function meters' state weakly: the counters must survive a collection.
            System.gc();
            assertThat(registry.get("torii.gateway.exchanges").functionCounter().count())
                    .isEqualTo(3);
            assertThat(registry.get("torii.gateway.upstream.connections.opened")
                            .functionCounter()
                            .count())
                    .isGreaterThanOrEqualTo(1);
            assertThat(registry.get("torii.gateway.open.connections").gauge().value())
                    .isNotNaN();
        }
    }

    @Test
    void aRequestRefusedBeforeAnExchangeExistedIsCountedWithoutRouteOrUpstream() {
        var registry = new SimpleMeterRegistry();
        new RequestMetrics(registry)
                .onRefused(new ExchangeLog(
                        0,
                        new InetSocketAddress("127.0.0.1", 5000),
                        "HTTP/1.1",
                        "",
                        "",
                        null,
                        null,
                        null,
                        null,
                        431,
                        ProxyError.HEADERS_TOO_LARGE,
                        0,
                        0,
                        -1,
                        -1,
                        2_000,
                        0));
        assertThat(registry.get("torii.requests")
                        .tags("route", "none", "upstream", "none", "status", "4xx", "error", "HEADERS_TOO_LARGE")
                        .counter()
                        .count())
                .isEqualTo(1);
        assertThat(registry.find("torii.upstream.response.duration").timers()).isEmpty();
    }

    private static ExchangeLog finished(String route, String upstream, int status, ProxyError error) {
        return new ExchangeLog(
                0,
                new InetSocketAddress("127.0.0.1", 5000),
                "HTTP/1.1",
                "GET",
                "/",
                "api.test",
                route,
                upstream,
                null,
                status,
                error,
                0,
                3,
                -1,
                -1,
                2_000,
                1);
    }

    @Test
    void exchangesOfOneRouteThatAlternateBetweenSeriesAreEachCountedInTheirOwn() {
        var registry = new SimpleMeterRegistry();
        var metrics = new RequestMetrics(registry);
        for (int i = 0; i < 3; i++) {
            metrics.record(finished("api", "app", 200, null));
            metrics.record(finished("api", "app", 200, null));
            metrics.record(finished("api", "app", 503, ProxyError.NO_ENDPOINT));
            metrics.record(finished("api", "other", 200, null));
        }
        assertThat(registry.get("torii.requests")
                        .tags("route", "api", "upstream", "app", "status", "2xx", "error", "none")
                        .counter()
                        .count())
                .isEqualTo(6);
        assertThat(registry.get("torii.requests")
                        .tags("route", "api", "upstream", "app", "status", "5xx", "error", "NO_ENDPOINT")
                        .counter()
                        .count())
                .isEqualTo(3);
        assertThat(registry.get("torii.requests")
                        .tags("route", "api", "upstream", "other", "status", "2xx")
                        .counter()
                        .count())
                .isEqualTo(3);
        assertThat(registry.get("torii.response.bytes")
                        .tags("route", "api")
                        .counter()
                        .count())
                .isEqualTo(36);
        assertThat(registry.get("torii.request.bytes")
                        .tags("route", "api")
                        .counter()
                        .count())
                .isZero();
    }

    @Test
    void protocolLabelsAreShort() {
        assertThat(RequestMetrics.protocolLabel("HTTP/1.1")).isEqualTo("1.1");
        assertThat(RequestMetrics.protocolLabel("HTTP/2.0")).isEqualTo("2");
        assertThat(RequestMetrics.protocolLabel("HTTP/2")).isEqualTo("2");
    }
}
