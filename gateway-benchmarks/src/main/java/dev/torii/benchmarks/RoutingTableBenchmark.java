package dev.torii.benchmarks;

import dev.torii.Headers;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.Upstream;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link RoutingTable#match} on a realistic table of 50 routes: 10 exact hosts with 4 routes each (method, header and
 * path conditions, then a catch-all), 6 host-less routes that apply to every host, and 4 wildcard-host routes. There is
 * no host-less catch-all, so a request for an unknown host and path misses after scanning every non-exact route.
 *
 * <ul>
 *   <li>{@code exactHostHit}: {@code GET api7.example.com /v1/users/42}, the second route of that host's candidates.
 *   <li>{@code wildcardHit}: {@code GET web3.svc.example.com /users}, through the 6 host-less routes and a wildcard
 *       route whose path does not match, to {@code *.svc.example.com /}.
 *   <li>{@code miss}: {@code GET unknown.example.io /nothing}, every host-less and wildcard route tried, none matches.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RoutingTableBenchmark {
    static final int EXACT_HOSTS = 10;

    RoutingTable table;
    Headers headers;

    @Setup
    public void setUp() {
        table = realisticTable();
        headers = SimpleHeaders.of(
                "host", "api7.example.com",
                "user-agent", "wrk/4.1.0",
                "accept", "*/*",
                "accept-encoding", "gzip, deflate, br",
                "x-client", "bench",
                "x-request-id", "4f1c2a9e-6b1d-4c1e-9d5f-0a7b3c2d1e0f");
        // Fail at setup, not by measuring the wrong path, if the table changes under the benchmark.
        check(exactHostHit(), "api7-read");
        check(wildcardHit(), "svc-any");
        check(miss(), null);
    }

    @Benchmark
    public Route exactHostHit() {
        return table.match("GET", "api7.example.com", "/v1/users/42", headers);
    }

    @Benchmark
    public Route wildcardHit() {
        return table.match("GET", "web3.svc.example.com", "/users", headers);
    }

    @Benchmark
    public Route miss() {
        return table.match("GET", "unknown.example.io", "/nothing", headers);
    }

    /** The 50-route table described in the class comment. */
    static RoutingTable realisticTable() {
        var b = RoutingTable.builder();
        for (String u : new String[] {"orders", "read", "admin", "web", "ops", "static", "grpc", "cdn"}) {
            b.upstream(Upstream.builder(u).endpoint("127.0.0.1:9001").build());
        }
        for (int i = 0; i < EXACT_HOSTS; i++) {
            String host = "api" + i + ".example.com";
            b.route(Route.builder("api" + i + "-orders")
                    .host(host)
                    .pathPrefix("/v1/orders")
                    .methods("POST")
                    .header("x-tenant", "gold")
                    .upstream("orders")
                    .build());
            b.route(Route.builder("api" + i + "-read")
                    .host(host)
                    .pathPrefix("/v1/")
                    .methods("GET", "HEAD")
                    .upstream("read")
                    .build());
            b.route(Route.builder("api" + i + "-admin")
                    .host(host)
                    .pathPrefix("/admin/")
                    .header("x-admin", "1")
                    .upstream("admin")
                    .build());
            b.route(Route.builder("api" + i + "-web").host(host).upstream("web").build());
        }
        b.route(Route.builder("healthz")
                .pathPrefix("/healthz")
                .methods("GET")
                .upstream("ops")
                .build());
        b.route(Route.builder("metrics")
                .pathPrefix("/metrics")
                .methods("GET")
                .header("x-scrape", "1")
                .upstream("ops")
                .build());
        b.route(Route.builder("well-known")
                .pathPrefix("/.well-known/")
                .upstream("ops")
                .build());
        b.route(Route.builder("api-v2")
                .pathPrefix("/api/")
                .header("x-api-version", "2")
                .upstream("read")
                .build());
        b.route(Route.builder("legacy").pathPrefix("/legacy/").upstream("web").build());
        b.route(Route.builder("static")
                .pathPrefix("/static/")
                .upstream("static")
                .build());
        b.route(Route.builder("svc-grpc")
                .host("*.svc.example.com")
                .pathPrefix("/grpc/")
                .methods("POST")
                .upstream("grpc")
                .build());
        b.route(Route.builder("svc-any")
                .host("*.svc.example.com")
                .upstream("web")
                .build());
        b.route(Route.builder("cdn").host("*.cdn.example.net").upstream("cdn").build());
        b.route(Route.builder("org-static")
                .host("*.example.org")
                .pathPrefix("/static/")
                .upstream("static")
                .build());
        RoutingTable t = b.build();
        if (t.routes().size() != 50) {
            throw new IllegalStateException("routes: " + t.routes().size() + " (expected: 50)");
        }
        return t;
    }

    private static void check(Route got, String expectedName) {
        String name = got == null ? null : got.name();
        if (expectedName == null ? name != null : !expectedName.equals(name)) {
            throw new IllegalStateException("matched route: " + name + " (expected: " + expectedName + ")");
        }
    }
}
