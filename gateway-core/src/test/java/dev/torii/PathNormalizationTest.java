package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Path tricks against a hook that refuses {@code /admin} and a route for {@code /public}, sent by curl with {@code
 * --path-as-is} over HTTP/1.1 and h2c: the hook sees the normalised path, and so does the upstream.
 */
class PathNormalizationTest {
    private static TestUpstream upstream;
    private static Gateway gateway;

    /** Refuses every path under /admin, as an access rule would. */
    private static final Hook ADMIN_GUARD = new Hook() {
        @Override
        public HookResult onRequest(Exchange exchange) {
            return exchange.request().path().startsWith("/admin")
                    ? HookResult.respond(403, "admin is closed\n")
                    : HookResult.proceed();
        }
    };

    @BeforeAll
    static void start() {
        upstream = TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE);
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .hook(ADMIN_GUARD)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("public")
                                .pathPrefix("/public")
                                .upstream("app")
                                .build())
                        .route(Route.builder("admin")
                                .pathPrefix("/admin")
                                .upstream("app")
                                .build())
                        .build())
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    /** curl with the path as given; returns "status|body". */
    private static String get(boolean h2c, String path) throws IOException, InterruptedException {
        var cmd = new ArrayList<String>(
                List.of("curl", "-sS", "--max-time", "15", "--path-as-is", "-w", "|%{http_code}|%{http_version}"));
        cmd.add(h2c ? "--http2-prior-knowledge" : "--http1.1");
        cmd.add("http://127.0.0.1:" + gateway.address("web").getPort() + path);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as(path).endsWith(h2c ? "|2" : "|1.1");
        return out.substring(0, out.lastIndexOf('|'));
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void everyTrickFormOfAdminIsRefusedByTheHook(boolean h2c) throws Exception {
        for (String trick : List.of(
                "/admin/",
                "/x/../admin/",
                "//admin/",
                "/%61dmin/",
                "/%41dmin/../admin/x",
                "/./admin",
                "/public/../admin",
                "/public/%2e%2e/admin",
                "/x/.%2E/admin",
                "/admin%2F",
                "///admin//secret")) {
            assertThat(get(h2c, trick)).as(trick).isEqualTo("admin is closed\n|403");
        }
        assertThat(upstream.requests()).noneMatch(r -> r.uri().contains("admin"));
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void pathsThatClimbAboveTheRootOrHaveInvalidEscapesAreRefused(boolean h2c) throws Exception {
        for (String bad : List.of("/../admin", "/%2e%2e/admin", "/public/../../admin", "/public/%zz")) {
            assertThat(get(h2c, bad)).as(bad).endsWith("|400");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theUpstreamReceivesTheNormalisedPathAndTheQueryAsSent(boolean h2c) throws Exception {
        assertThat(get(h2c, "/x/..//%70ublic/./a%2fb%7e?q=/../%61")).isEqualTo("GET /public/a%2Fb~?q=/../%61\n|200");
        assertThat(get(h2c, "/%5Cadmin"))
                .as("an encoded backslash is not a separator")
                .endsWith("|404");
    }
}
