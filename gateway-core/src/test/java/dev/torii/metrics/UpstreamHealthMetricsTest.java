package dev.torii.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.OutlierDetection;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class UpstreamHealthMetricsTest {
    @Test
    void eachEndpointHasAnAvailabilitySeriesThatDropsToZeroWhenItIsEjected() throws Exception {
        int closedPort;
        try (var s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        var registry = new SimpleMeterRegistry();
        String dead = "127.0.0.1:" + closedPort;
        try (var good = TestUpstream.start();
                var gateway = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .ioThreads(1)
                        .meterRegistry(registry)
                        .routingTable(table(dead, good.endpoint()))
                        .limits(Limits.builder()
                                .shutdownTimeout(Duration.ofSeconds(1))
                                .build())
                        .build()
                        .start();
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(5))) {
            assertThat(available(registry, dead)).isEqualTo(1.0);
            assertThat(available(registry, good.endpoint())).isEqualTo(1.0);

            for (int i = 0; i < 4; i++) {
                // A refused connect is retried on the other endpoint: the client sees 200, the dead one is ejected.
                assertThat(client.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                                .readResponse()
                                .status())
                        .isEqualTo(200);
            }
            assertThat(available(registry, dead)).as("ejected").isEqualTo(0.0);
            assertThat(available(registry, good.endpoint())).isEqualTo(1.0);

            gateway.routingTable(table(good.endpoint(), "127.0.0.1:1"));
            assertThat(available(registry, "127.0.0.1:1"))
                    .as("an endpoint a swap brought in")
                    .isEqualTo(1.0);
            assertThat(available(registry, dead))
                    .as("an endpoint a swap removed")
                    .isNaN();
            assertThat(registry.find("torii.upstream.endpoint.available").gauges())
                    .hasSize(3);
        }
    }

    private static RoutingTable table(String first, String second) {
        return RoutingTable.builder()
                .upstream(Upstream.builder("app")
                        .endpoint(first)
                        .endpoint(second)
                        .outlierDetection(new OutlierDetection(1, Duration.ofMinutes(1), Duration.ofMinutes(1), 50))
                        .build())
                .route(Route.builder("all").upstream("app").build())
                .build();
    }

    private static double available(SimpleMeterRegistry registry, String endpoint) {
        return registry.get("torii.upstream.endpoint.available")
                .tag("upstream", "app")
                .tag("endpoint", endpoint)
                .gauge()
                .value();
    }
}
