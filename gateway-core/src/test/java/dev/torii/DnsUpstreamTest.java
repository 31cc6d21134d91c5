package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.dns.DnsCache;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.testing.UnboundServer;
import dev.torii.upstream.Upstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Upstream endpoints written as host names, resolved through the DNS cache from a real unbound. */
class DnsUpstreamTest {
    @Test
    void aHostNameEndpointIsResolvedThroughTheCacheAndAnUnknownNameIs502DnsFailed() throws Exception {
        try (UnboundServer unbound = UnboundServer.start(List.of(
                        "local-zone: \".\" static",
                        "local-zone: \"gw.test.\" static",
                        "local-data: \"gw.test. 3600 IN SOA ns.gw.test. admin.gw.test. 1 3600 600 86400 5\"",
                        "local-data: \"app.gw.test. 30 IN A 127.0.0.1\""));
                DnsCache cache = DnsCache.builder()
                        .upstreams(List.of(unbound.address()))
                        .queryTimeout(Duration.ofSeconds(2))
                        .build();
                TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "by name\n"));
                Gateway gateway = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .dnsCache(cache)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("named")
                                        .endpoint("app.gw.test:" + upstream.port())
                                        .build())
                                .upstream(Upstream.builder("unknown")
                                        .endpoint("missing.gw.test:" + upstream.port())
                                        .build())
                                .route(Route.builder("unknown")
                                        .pathPrefix("/unknown")
                                        .upstream("unknown")
                                        .build())
                                .route(Route.builder("named").upstream("named").build())
                                .build())
                        .build()
                        .start();
                HttpClient client = HttpClient.newHttpClient()) {
            String base = "http://127.0.0.1:" + gateway.address("web").getPort();
            for (int i = 0; i < 3; i++) {
                HttpResponse<String> ok = client.send(
                        HttpRequest.newBuilder(URI.create(base + "/x")).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(ok.statusCode()).isEqualTo(200);
                assertThat(ok.body()).isEqualTo("by name\n");
            }
            // Three requests, one lookup of each record type: the cache answered the others.
            assertThat(cache.stats().hits()).isGreaterThanOrEqualTo(2);

            HttpResponse<String> missing = client.send(
                    HttpRequest.newBuilder(URI.create(base + "/unknown")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(missing.statusCode()).isEqualTo(502);
            assertThat(missing.body()).isEqualTo("502 DNS_FAILED\n");
            assertThat(upstream.requests())
                    .as("the failed name never reached an upstream")
                    .hasSize(3);
        }
    }

    @Test
    void aKubernetesShortNameEndpointIsFoundThroughTheSearchListAndNdots() throws Exception {
        try (UnboundServer unbound = UnboundServer.start(List.of(
                        "local-zone: \".\" static",
                        "local-zone: \"cluster.local.\" static",
                        "local-data: \"cluster.local. 3600 IN SOA ns.cluster.local. admin.cluster.local. 1 3600 600 86400 5\"",
                        "local-data: \"redis.prod.svc.cluster.local. 30 IN A 127.0.0.1\""));
                DnsCache cache = DnsCache.builder()
                        .upstreams(List.of(unbound.address()))
                        .searchList(List.of("prod.svc.cluster.local", "svc.cluster.local", "cluster.local"))
                        .ndots(5)
                        .queryTimeout(Duration.ofSeconds(2))
                        .build();
                TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "short\n"));
                Gateway gateway = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .dnsCache(cache)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("redis")
                                        .endpoint("redis:" + upstream.port())
                                        .build())
                                .route(Route.builder("all").upstream("redis").build())
                                .build())
                        .build()
                        .start();
                HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> ok = client.send(
                    HttpRequest.newBuilder(URI.create(
                                    "http://127.0.0.1:" + gateway.address("web").getPort() + "/"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.body()).isEqualTo("short\n");
        }
    }
}
