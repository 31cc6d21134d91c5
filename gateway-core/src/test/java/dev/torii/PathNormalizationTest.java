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
                .listener(Listener.http("redirect", "127.0.0.1:0")
                        .withOptions(ListenerOptions.DEFAULTS.withPathNormalization(
                                new PathNormalization(true, true, PathNormalization.EscapedSlashes.REDIRECT))))
                .listener(Listener.http("strict", "127.0.0.1:0")
                        .withOptions(ListenerOptions.DEFAULTS.withPathNormalization(
                                new PathNormalization(true, false, PathNormalization.EscapedSlashes.REJECT))))
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

    /** curl with the path as given to the listener "web"; returns "body|status". */
    private static String get(boolean h2c, String path) throws IOException, InterruptedException {
        return get("web", h2c, path);
    }

    /** curl with the path as given to {@code listener}; returns "body|status" ("body|status|location" for a 3xx). */
    private static String get(String listener, boolean h2c, String path) throws IOException, InterruptedException {
        var cmd = new ArrayList<String>(List.of(
                "curl",
                "-sS",
                "--max-time",
                "15",
                "--path-as-is",
                "-w",
                "|%{http_code}%{redirect_url}|%{http_version}"));
        cmd.add(h2c ? "--http2-prior-knowledge" : "--http1.1");
        cmd.add("http://127.0.0.1:" + gateway.address(listener).getPort() + path);
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

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aListenerThatRedirectsAnswers308WithTheNormalisedPathWhenNormalisationChangedIt(boolean h2c) throws Exception {
        String base = "http://127.0.0.1:" + gateway.address("redirect").getPort();
        int before = upstream.requests().size();
        assertThat(get("redirect", h2c, "/x/a%2Fb/../../public//p?q=%2F"))
                .as("escaped slash decoded, dot segments removed, slashes merged, query as sent")
                .isEqualTo("|308" + base + "/x/public/p?q=%2F");
        assertThat(get("redirect", h2c, "/public/%70")).isEqualTo("|308" + base + "/public/p");
        assertThat(get("redirect", h2c, "/admin%2fx")).isEqualTo("|308" + base + "/admin/x");
        assertThat(upstream.requests().size())
                .as("no redirected request is proxied")
                .isEqualTo(before);
        assertThat(get("redirect", h2c, "/public/p?q=%2F"))
                .as("a path with nothing to normalise is proxied")
                .isEqualTo("GET /public/p?q=%2F\n|200");
        assertThat(get("redirect", h2c, "/../public")).as("still refused").endsWith("|400");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aListenersOwnNormalisationOverridesTheGatewaysForThatListenerOnly(boolean h2c) throws Exception {
        // "strict": escaped slashes rejected, slashes not merged; "web" has the gateway's defaults.
        assertThat(get("strict", h2c, "/public/a%2Fb")).endsWith("|400");
        assertThat(get(h2c, "/public/a%2Fb")).isEqualTo("GET /public/a%2Fb\n|200");
        assertThat(get("strict", h2c, "//public/x"))
                .as("not merged: no route matches //public")
                .endsWith("|404");
        assertThat(get(h2c, "//public/x")).isEqualTo("GET /public/x\n|200");
        assertThat(get("strict", h2c, "/x/../admin"))
                .as("dot segments still removed")
                .endsWith("|403");
    }
}
