package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Per-phase hook lists: the engine calls a hook only in the phases it reports ({@link Hook#phases()}). */
class HookPhasesTest {
    private final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private TestUpstream upstream;
    private Gateway gateway;

    @AfterEach
    void close() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
        client.close();
    }

    /** Counts every call of each phase method; reports {@code phases} (null: the default, every phase). */
    private static final class Counting implements Hook {
        final Map<Phase, AtomicInteger> calls = new EnumMap<>(Phase.class);
        private final Set<Phase> phases;
        private final boolean answer;

        Counting(Set<Phase> phases, boolean answer) {
            this.phases = phases;
            this.answer = answer;
            for (Phase p : Phase.values()) {
                calls.put(p, new AtomicInteger());
            }
        }

        @Override
        public Set<Phase> phases() {
            return phases == null ? Hook.super.phases() : phases;
        }

        @Override
        public HookResult onRequest(Exchange exchange) {
            calls.get(Phase.REQUEST).incrementAndGet();
            return answer
                    ? HookResult.respond(new LocalResponse(200, List.of(), "local\n".getBytes()))
                    : HookResult.proceed();
        }

        @Override
        public HookResult onUpstream(Exchange exchange) {
            calls.get(Phase.UPSTREAM).incrementAndGet();
            return HookResult.proceed();
        }

        @Override
        public HookResult onResponse(Exchange exchange) {
            calls.get(Phase.RESPONSE).incrementAndGet();
            return HookResult.proceed();
        }

        int count(Phase p) {
            return calls.get(p).get();
        }
    }

    private HttpResponse<String> get(String path) throws Exception {
        return client.send(
                HttpRequest.newBuilder(URI.create(
                                "http://127.0.0.1:" + gateway.address("web").getPort() + path))
                        .timeout(Duration.ofSeconds(20))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private void start(List<Hook> global, List<Hook> route) {
        upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "up\n"));
        Upstream app = Upstream.builder("app").endpoint(upstream.endpoint()).build();
        var rb = Route.builder("all").upstream("app");
        route.forEach(rb::hook);
        var b = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(
                        RoutingTable.builder().upstream(app).route(rb.build()).build())
                .ioThreads(1);
        global.forEach(b::hook);
        gateway = b.build().start();
    }

    @Test
    void aHookThatReportsOnlyTheRequestPhaseIsNotCalledInTheUpstreamOrResponsePhase() throws Exception {
        Counting requestOnly = new Counting(EnumSet.of(Phase.REQUEST), false);
        Counting every = new Counting(null, false);
        Counting routeResponseOnly = new Counting(EnumSet.of(Phase.RESPONSE), false);
        start(List.of(requestOnly, every), List.of(routeResponseOnly));

        for (int i = 0; i < 5; i++) {
            assertThat(get("/x").body()).isEqualTo("up\n");
        }

        assertThat(requestOnly.count(Phase.REQUEST)).isEqualTo(5);
        assertThat(requestOnly.count(Phase.UPSTREAM)).isZero();
        assertThat(requestOnly.count(Phase.RESPONSE)).isZero();
        // The default reports every phase, so nothing changes for existing hooks.
        assertThat(every.count(Phase.REQUEST)).isEqualTo(5);
        assertThat(every.count(Phase.UPSTREAM)).isEqualTo(5);
        assertThat(every.count(Phase.RESPONSE)).isEqualTo(5);
        assertThat(routeResponseOnly.count(Phase.REQUEST)).isZero();
        assertThat(routeResponseOnly.count(Phase.UPSTREAM)).isZero();
        assertThat(routeResponseOnly.count(Phase.RESPONSE)).isEqualTo(5);
    }

    @Test
    void aLocalResponseRunsOnlyTheResponseHooksThatReportTheResponsePhase() throws Exception {
        Counting answering = new Counting(EnumSet.of(Phase.REQUEST), true);
        Counting responseOnly = new Counting(EnumSet.of(Phase.RESPONSE), false);
        Counting upstreamOnly = new Counting(EnumSet.of(Phase.UPSTREAM), false);
        start(List.of(answering, responseOnly, upstreamOnly), List.of());

        assertThat(get("/x").body()).isEqualTo("local\n");

        assertThat(answering.count(Phase.REQUEST)).isEqualTo(1);
        assertThat(answering.count(Phase.RESPONSE)).isZero();
        assertThat(responseOnly.count(Phase.REQUEST)).isZero();
        assertThat(responseOnly.count(Phase.RESPONSE)).isEqualTo(1);
        assertThat(upstreamOnly.count(Phase.REQUEST)).isZero();
        assertThat(upstreamOnly.count(Phase.UPSTREAM)).isZero();
        assertThat(upstreamOnly.count(Phase.RESPONSE)).isZero();
    }
}
