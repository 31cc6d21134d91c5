package dev.torii;

import static dev.torii.testing.RawH2Client.CONTINUATION;
import static dev.torii.testing.RawH2Client.DATA;
import static dev.torii.testing.RawH2Client.ENHANCE_YOUR_CALM;
import static dev.torii.testing.RawH2Client.HEADERS;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.torii.Http2Limits.Flood;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Every HTTP/2 flood Torii stops is counted by kind (in {@link GatewayStats#http2FloodsByKind()} and in the
 * {@code torii.gateway.http2.floods} counter's {@code kind} tag), and logged at most once per client address per
 * interval however many connections flood.
 */
class Http2FloodCountingTest {
    private static final int ROUNDS = 4;

    private static TestUpstream upstream;
    private static Gateway gateway;
    private static final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private static final ListAppender<ILoggingEvent> floodLines = new ListAppender<>();
    private static Logger floodLogger;

    @BeforeAll
    static void start() {
        floodLogger = (Logger) LoggerFactory.getLogger("dev.torii.internal.http2.FloodLog");
        floodLines.start();
        floodLogger.addAppender(floodLines);
        upstream = TestUpstream.start();
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .http2Limits(Http2Limits.builder()
                        .maxResetsPerWindow(20)
                        .maxControlFramesPerWindow(30)
                        .floodWindow(Duration.ofSeconds(30))
                        .build())
                .meterRegistry(registry)
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterAll
    static void stop() {
        floodLogger.detachAppender(floodLines);
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    @FunctionalInterface
    interface Attack {
        void run(RawH2Client c) throws IOException;
    }

    private static final Map<Flood, Attack> ATTACKS = Map.of(
            Flood.RAPID_RESET,
            c -> {
                for (int i = 0; i < 30; i++) {
                    int stream = 1 + 2 * i;
                    c.headers(stream, RawH2Client.request("GET", "/reset/" + i, "h2.test"), true)
                            .rst(stream, 0x8);
                }
            },
            Flood.CONTINUATION,
            c -> {
                c.frame(HEADERS, 0, 1, c.encode(1, RawH2Client.request("GET", "/continuation", "h2.test")));
                for (int i = 0; i < 40; i++) {
                    c.frame(CONTINUATION, 0, 1, new byte[] {0x40, 0x01, 'x', 0x00});
                }
            },
            Flood.EMPTY_DATA,
            c -> {
                c.headers(1, RawH2Client.request("POST", "/empty-data", "h2.test"), false);
                for (int i = 0; i < 10; i++) {
                    c.frame(DATA, 0, 1, new byte[0]);
                }
            },
            Flood.SETTINGS,
            c -> {
                for (int i = 0; i < 31; i++) {
                    c.settings(Map.of(0x4, 65_535 + i % 2));
                }
            },
            Flood.PING,
            c -> {
                for (int i = 0; i < 31; i++) {
                    c.ping(i);
                }
            });

    private static int attack(Attack attack) throws IOException {
        try (RawH2Client c = RawH2Client.connect(
                new InetSocketAddress("127.0.0.1", gateway.address("web").getPort()))) {
            try {
                attack.run(c);
                c.flush();
            } catch (IOException e) {
                return -2; // closed while the attack was being written
            }
            return c.awaitGoAway();
        }
    }

    @Test
    void everyFloodIsCountedByKindAndLoggedOncePerClientAddress() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            for (Flood kind : Flood.values()) {
                assertThat(attack(ATTACKS.get(kind))).as(kind.tag()).isIn(ENHANCE_YOUR_CALM, -2);
            }
        }
        GatewayStats stats = awaitFloods(ROUNDS * Flood.values().length);
        for (Flood kind : Flood.values()) {
            assertThat(stats.http2FloodsByKind().get(kind)).as(kind.tag()).isEqualTo(ROUNDS);
            assertThat(registry.get("torii.gateway.http2.floods")
                            .tag("kind", kind.tag())
                            .functionCounter()
                            .count())
                    .as("metric of %s", kind.tag())
                    .isEqualTo(ROUNDS);
        }
        assertThat(stats.http2FloodsStopped()).isEqualTo(ROUNDS * Flood.values().length);
        assertThat(floodLines.list)
                .as("%d floods from 127.0.0.1 within the interval: one line", ROUNDS * Flood.values().length)
                .hasSize(1);
        assertThat(floodLines.list.getFirst().getFormattedMessage()).contains("127.0.0.1", "rapid_reset");
    }

    /** The counters are updated on the event loop as each connection closes: wait for them (bounded). */
    private static GatewayStats awaitFloods(long expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        GatewayStats stats = gateway.stats();
        while (stats.http2FloodsStopped() < expected && System.nanoTime() < deadline) {
            Thread.sleep(20);
            stats = gateway.stats();
        }
        return stats;
    }
}
