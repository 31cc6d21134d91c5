package dev.torii.internal.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.Http2TestServer;
import dev.torii.testing.RawClient;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * HTTP/2 keepalive: a connection that has been silent is sent a PING; one whose peer does not answer within
 * {@code connectTimeout} is closed (and the next exchange opens a new one), one that answers is kept. The silence
 * before a PING is shortened from 30 s to 200 ms here.
 */
class Http2KeepaliveTest {
    private long savedPingAfter;

    @BeforeEach
    void shortenPingInterval() {
        savedPingAfter = ConnectionPool.pingAfterNanos;
        ConnectionPool.pingAfterNanos = TimeUnit.MILLISECONDS.toNanos(200);
    }

    @AfterEach
    void restorePingInterval() {
        ConnectionPool.pingAfterNanos = savedPingAfter;
    }

    @Test
    void aConnectionWhosePeerDoesNotAnswerPingsIsReplaced() throws Exception {
        try (var server = Http2TestServer.ignoringPings();
                var gateway = gateway(server);
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(10))) {
            assertThat(get(client)).isEqualTo(200);
            // Sweeps run every second: one sends the PING, a later one finds it unanswered after 500 ms.
            Thread.sleep(3000); // silence is what is tested; there is no event to wait on
            assertThat(get(client)).isEqualTo(200);
            assertThat(server.connections())
                    .as("the silent connection was closed and replaced")
                    .isEqualTo(2);
        }
    }

    @Test
    void aConnectionWhosePeerAnswersPingsIsKept() throws Exception {
        try (var server = Http2TestServer.start(0);
                var gateway = gateway(server);
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(10))) {
            assertThat(get(client)).isEqualTo(200);
            Thread.sleep(3000); // silence is what is tested; there is no event to wait on
            assertThat(get(client)).isEqualTo(200);
            assertThat(server.connections()).isEqualTo(1);
        }
    }

    private static int get(RawClient client) {
        return client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").readResponse().status();
    }

    private static Gateway gateway(Http2TestServer server) {
        Upstream upstream = Upstream.builder("app")
                .endpoint(server.endpoint())
                .protocol(UpstreamProtocol.H2C)
                .connectTimeout(Duration.ofMillis(500))
                .build();
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(upstream)
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .limits(Limits.builder().shutdownTimeout(Duration.ofSeconds(2)).build())
                .build()
                .start();
    }
}
