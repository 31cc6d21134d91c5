package dev.torii.maintenance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Exchange;
import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Scheduled windows (with a clock the test moves, no sleeping), maintenance per route, the bypasses, the page chosen by
 * {@code Accept}, and the global {@code onResponse} hooks on the 503 — through a real gateway over loopback.
 */
class MaintenanceScheduleAndBypassTest {
    private static final String TOKEN = "s3cret-bypass-token-0123";
    private static final Instant T0 = Instant.parse("2026-12-03T22:00:00Z");
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final TestUpstream upstream = closeLater(TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE));
    private final AtomicReference<Instant> now = new AtomicReference<>(T0.minusSeconds(60));
    private final InstantSource clock = now::get;
    private final AtomicInteger onRequestCalls = new AtomicInteger();
    private final AtomicInteger onResponseCalls = new AtomicInteger();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        client.close();
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    /** A global hook (like a plugin) that counts its calls and stamps every response. */
    private final Hook stamping = new Hook() {
        @Override
        public HookResult onRequest(Exchange exchange) {
            onRequestCalls.incrementAndGet();
            return HookResult.proceed();
        }

        @Override
        public HookResult onResponse(Exchange exchange) {
            onResponseCalls.incrementAndGet();
            exchange.response().headers().set("x-served-by", "torii");
            return HookResult.proceed();
        }
    };

    private Gateway gateway(MaintenanceMode m) {
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
                .hook(stamping)
                .ioThreads(1)
                .build()
                .start());
    }

    private HttpResponse<String> get(Gateway g, String path, String... headers) throws Exception {
        var b = HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + g.address("web").getPort() + path))
                .timeout(Duration.ofSeconds(20));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aScheduledWindowTurnsMaintenanceOnFromItsStartUntilItsEnd() throws Exception {
        MaintenanceMode m = MaintenanceMode.builder()
                .clock(clock)
                .windows(List.of(MaintenanceWindow.of(T0, T0.plusSeconds(3600))))
                .build();
        Gateway g = gateway(m);
        assertThat(get(g, "/x").statusCode()).isEqualTo(200);

        now.set(T0);
        m.poll();
        assertThat(m.enabled()).isTrue();
        assertThat(m.stats().scheduleOn()).isTrue();
        assertThat(get(g, "/x").statusCode()).isEqualTo(503);

        now.set(T0.plusSeconds(3600));
        m.poll();
        assertThat(m.enabled()).as("the end is exclusive").isFalse();
        assertThat(get(g, "/x").statusCode()).isEqualTo(200);
        assertThat(m.stats().switches())
                .as("the window's start and end are both counted")
                .isEqualTo(2);
    }

    @Test
    void aWindowAddedAtRunTimeForOneRouteAnswersOnlyThatRoute() throws Exception {
        MaintenanceMode m = MaintenanceMode.builder().clock(clock).build();
        Gateway g = gateway(m);
        var window = new MaintenanceWindow(
                MaintenanceWindow.parseInstant("start", "2026-12-03T23:00:00+01:00"),
                MaintenanceWindow.parseInstant("end", "2026-12-03T23:30:00+01:00"),
                List.of("billing"));
        m.addWindow(window, MaintenanceSource.ADMIN);
        assertThat(get(g, "/billing/1").statusCode()).as("not yet open").isEqualTo(200);

        now.set(T0.plusSeconds(60));
        assertThat(m.enabled()).isFalse();
        assertThat(m.enabled("billing")).isTrue();
        assertThat(get(g, "/billing/1").statusCode()).isEqualTo(503);
        assertThat(get(g, "/other").statusCode()).isEqualTo(200);
        assertThat(m.stats().routesOn()).containsExactly("billing");

        assertThat(m.removeWindow(window, MaintenanceSource.ADMIN)).isTrue();
        assertThat(get(g, "/billing/1").statusCode()).isEqualTo(200);
    }

    @Test
    void aRouteSwitchedIntoMaintenanceAnswersItsRequestsOnly() throws Exception {
        MaintenanceMode m = MaintenanceMode.builder().build();
        Gateway g = gateway(m);
        m.enableRoute("billing", MaintenanceSource.API);
        HttpResponse<String> r = get(g, "/billing/invoices");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("retry-after")).hasValue("300");
        assertThat(get(g, "/shop").statusCode()).isEqualTo(200);
        assertThat(upstream.requests()).hasSize(1);
        m.disableRoute("billing", MaintenanceSource.API);
        assertThat(get(g, "/billing/invoices").statusCode()).isEqualTo(200);
    }

    @Test
    void pathPrefixAndHeaderTokenBypassesPassWhileMaintenanceIsOn() throws Exception {
        MaintenanceMode m = MaintenanceMode.builder()
                .enabled(true)
                .bypassPaths(List.of("/healthz", "/status/"))
                .bypassTokens(List.of(TOKEN))
                .build();
        Gateway g = gateway(m);
        assertThat(get(g, "/x").statusCode()).isEqualTo(503);
        assertThat(get(g, "/healthz").statusCode()).isEqualTo(200);
        assertThat(get(g, "/status/page").statusCode()).isEqualTo(200);
        assertThat(get(g, "/statusx").statusCode()).isEqualTo(503);
        assertThat(get(g, "/x", "x-maintenance-bypass", TOKEN).statusCode()).isEqualTo(200);
        assertThat(get(g, "/x", "x-maintenance-bypass", TOKEN + "x").statusCode())
                .isEqualTo(503);
        assertThat(m.stats().bypassed()).isEqualTo(3);
        assertThat(m.stats().answered()).isEqualTo(3);
    }

    @Test
    void thePageIsHtmlOrJsonAsAcceptPrefers() throws Exception {
        MaintenanceMode m = MaintenanceMode.builder()
                .enabled(true)
                .page("<h1>Back soon</h1>", "text/html; charset=utf-8")
                .jsonPage("{\"message\":\"back soon\"}".getBytes(StandardCharsets.UTF_8))
                .retryAfter(Duration.ofSeconds(60))
                .build();
        Gateway g = gateway(m);
        HttpResponse<String> browser =
                get(g, "/x", "accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        assertThat(browser.body()).isEqualTo("<h1>Back soon</h1>");
        HttpResponse<String> api = get(g, "/x", "accept", "application/json");
        assertThat(api.statusCode()).isEqualTo(503);
        assertThat(api.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(api.body()).isEqualTo("{\"message\":\"back soon\"}");
        assertThat(get(g, "/x", "accept", "text/html;q=0.5, application/json;q=0.9")
                        .body())
                .isEqualTo("{\"message\":\"back soon\"}");
        assertThat(get(g, "/x").body()).as("no Accept: HTML").isEqualTo("<h1>Back soon</h1>");

        MaintenanceMode plain = MaintenanceMode.builder().enabled(true).build();
        Gateway g2 = gateway(plain);
        assertThat(get(g2, "/x", "accept", "application/problem+json").body())
                .isEqualTo("{\"status\":503,\"error\":\"MAINTENANCE\",\"retryAfter\":300}\n");
    }

    @Test
    void globalHooksOnResponseRunOnTheMaintenance503ButTheirOnRequestDoesNot() throws Exception {
        Gateway g = gateway(MaintenanceMode.builder().enabled(true).build());
        HttpResponse<String> r = get(g, "/x");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("x-served-by")).hasValue("torii");
        assertThat(onRequestCalls).hasValue(0);
        assertThat(onResponseCalls).hasValue(1);
    }

    @Test
    void badSettingsAreRefusedWithTheValueAndWhatWasExpected() {
        assertThatThrownBy(() -> MaintenanceMode.builder()
                        .bypassPaths(List.of("healthz"))
                        .build())
                .hasMessage("maintenance bypassPaths: 'healthz' (expected: a path prefix starting with /)");
        assertThatThrownBy(() ->
                        MaintenanceMode.builder().bypassTokens(List.of("short")).build())
                .hasMessage("maintenance bypassTokens: a token of 5 characters (expected: at least 16)");
        assertThatThrownBy(() -> MaintenanceWindow.of(T0, T0))
                .hasMessageContaining("maintenance window end: 2026-12-03T22:00:00Z (expected: after its start");
        assertThatThrownBy(() -> MaintenanceWindow.parseInstant("start", "tomorrow"))
                .hasMessage("start: 'tomorrow' (expected: an ISO-8601 time with offset, e.g. 2026-12-03T22:00:00Z)");
        assertThatThrownBy(() -> MaintenanceMode.builder().redis("localhost", "k"))
                .hasMessage("redis address: 'localhost' (expected: host:port, e.g. 127.0.0.1:6379)");
    }
}
