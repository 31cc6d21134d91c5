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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The maintenance switch in a real gateway over loopback: a real HTTP client, the gateway, an in-process upstream. */
class MaintenanceModeTest {
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final TestUpstream upstream = closeLater(TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE));

    @TempDir
    Path dir;

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

    private Gateway gateway(MaintenanceMode m, Consumer<Gateway.Builder> more) {
        var b = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .maintenance(m)
                .ioThreads(1);
        more.accept(b);
        return closeLater(b.build().start());
    }

    private HttpResponse<String> get(Gateway g) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create(
                                "http://127.0.0.1:" + g.address("web").getPort() + "/x"))
                        .timeout(Duration.ofSeconds(20))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Polls until the gateway answers {@code status} (the flag file is seen by a poller); bounded. */
    private HttpResponse<String> awaitStatus(Gateway g, int status) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        HttpResponse<String> r;
        do {
            r = get(g);
            if (r.statusCode() == status) {
                return r;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        } while (System.nanoTime() < deadline);
        return r;
    }

    @Test
    void whileSwitchedOnEveryRequestGets503WithThePageAndRetryAfterAndOffPassesAgain() throws Exception {
        var calls = new AtomicInteger();
        Hook counting = new Hook() {
            @Override
            public HookResult onRequest(Exchange exchange) {
                calls.incrementAndGet();
                return HookResult.proceed();
            }
        };
        MaintenanceMode m = MaintenanceMode.builder()
                .page("<h1>Back soon</h1>", "text/html; charset=utf-8")
                .retryAfter(Duration.ofMinutes(2))
                .build();
        Gateway g = gateway(m, b -> b.hook(counting));
        assertThat(g.maintenance()).isSameAs(m);

        assertThat(get(g).statusCode()).isEqualTo(200);
        m.enable();
        HttpResponse<String> r = get(g);
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("<h1>Back soon</h1>");
        assertThat(r.headers().firstValue("content-type")).hasValue("text/html; charset=utf-8");
        assertThat(r.headers().firstValue("retry-after")).hasValue("120");
        assertThat(r.headers().firstValue("cache-control")).hasValue("no-store");
        assertThat(calls).as("hooks after the switch do not run").hasValue(1);
        assertThat(upstream.requests()).hasSize(1);

        m.disable();
        assertThat(get(g).statusCode()).isEqualTo(200);
        assertThat(upstream.requests()).hasSize(2);
    }

    @Test
    void withoutAPageTheErrorResponderRendersMaintenance() throws Exception {
        MaintenanceMode m = MaintenanceMode.builder().enabled(true).build();
        Gateway g = gateway(
                m,
                b -> b.errorResponder((error, ex) -> dev.torii.LocalResponse.text(
                        error.status(), "custom " + error.name() + "\n", java.util.Map.of("retry-after", "1"))));

        HttpResponse<String> r = get(g);
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("custom MAINTENANCE\n");
        assertThat(r.headers().allValues("retry-after")).containsExactly("300");
    }

    @Test
    void theFlagFileTurnsMaintenanceOnWhileItExists() throws Exception {
        Path flag = dir.resolve("maintenance.on");
        MaintenanceMode m = MaintenanceMode.builder()
                .file(flag)
                .pollInterval(Duration.ofMillis(20))
                .build();
        Gateway g = gateway(m, b -> {});
        assertThat(get(g).statusCode()).isEqualTo(200);

        Files.writeString(flag, "");
        assertThat(awaitStatus(g, 503).statusCode()).isEqualTo(503);
        assertThat(m.enabled()).isTrue();
        assertThat(m.switchedOn()).isFalse();
        m.disable(); // the switch is off already; the file keeps it on
        assertThat(get(g).statusCode()).isEqualTo(503);

        Files.delete(flag);
        assertThat(awaitStatus(g, 200).statusCode()).isEqualTo(200);
        assertThat(m.enabled()).isFalse();
    }

    @Test
    void aFlagFilePresentAtStartIsOnFromTheFirstRequest() throws Exception {
        Path flag = Files.writeString(dir.resolve("maintenance.on"), "");
        Gateway g = gateway(MaintenanceMode.builder().file(flag).build(), b -> {});

        assertThat(get(g).statusCode()).isEqualTo(503);
    }

    @Test
    void clientsInTheBypassBlocksPass() throws Exception {
        Gateway operators = gateway(
                MaintenanceMode.builder()
                        .enabled(true)
                        .bypass(List.of("10.0.0.0/8", "127.0.0.1"))
                        .build(),
                b -> {});
        Gateway others = gateway(
                MaintenanceMode.builder()
                        .enabled(true)
                        .bypass(List.of("10.0.0.0/8"))
                        .build(),
                b -> {});

        assertThat(get(operators).statusCode()).isEqualTo(200);
        assertThat(get(others).statusCode()).isEqualTo(503);
    }

    @Test
    void withRespondOffTheStateIsOnlyHeldForPlugins() throws Exception {
        MaintenanceMode m =
                MaintenanceMode.builder().enabled(true).respond(false).build();
        Gateway g = gateway(m, b -> {});

        assertThat(m.enabled()).isTrue();
        assertThat(get(g).statusCode()).isEqualTo(200);
    }

    @Test
    void badSettingsAreRefusedNamingTheValue() {
        assertThatThrownBy(() ->
                        MaintenanceMode.builder().bypass(List.of("10.0.0.0/33")).build())
                .hasMessage("maintenance bypass: '10.0.0.0/33' (expected: a CIDR block like 10.0.0.0/8 or an address)");
        assertThatThrownBy(() -> MaintenanceMode.builder()
                        .retryAfter(Duration.ofSeconds(-1))
                        .build())
                .hasMessage("maintenance retryAfter: PT-1S (expected: >= 0)");
    }
}
