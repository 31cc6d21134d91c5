package dev.torii.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.ListenerOptions;
import dev.torii.proxyprotocol.ProxyProtocolAccept;
import dev.torii.proxyprotocol.ProxyProtocolVersion;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.ProxyProtocolPeers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code proxyProtocol} on HTTP upstreams, against a real nginx that listens with {@code proxy_protocol} and answers
 * (and logs) {@code $proxy_protocol_addr}: each new upstream connection tells the client of the exchange that opened it,
 * for HTTP/1.1 and HTTP/2 clients, and a kept-alive connection is never reused for another client. Clients (curl)
 * connect from 127.0.0.7 and 127.0.0.8 so that their addresses are told apart from Torii's 127.0.0.1.
 */
class UpstreamProxyProtocolTest {
    private static ProxyProtocolPeers.Nginx nginx;

    @BeforeAll
    static void startNginx() {
        nginx = ProxyProtocolPeers.Nginx.start();
    }

    @AfterAll
    static void stopNginx() {
        nginx.close();
    }

    private static Gateway gateway(ProxyProtocolVersion version, ListenerOptions options) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0").withOptions(options))
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(nginx.hostPort())
                                .proxyProtocol(version)
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .build()
                .start();
    }

    /** The bodies of {@code count} requests curl sends on one connection from {@code source}. */
    private static List<String> curl(String source, int port, boolean http2, int count) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10", "--interface", source));
        cmd.add(http2 ? "--http2-prior-knowledge" : "--http1.1");
        for (int i = 0; i < count; i++) {
            cmd.add("http://127.0.0.1:" + port + "/" + i);
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines().toList();
    }

    @Test
    void eachClientsAddressReachesTheEndpointInAV1HeaderOverHttp1() throws Exception {
        try (Gateway g = gateway(ProxyProtocolVersion.V1, ListenerOptions.DEFAULTS)) {
            int port = g.address("web").getPort();
            assertThat(curl("127.0.0.7", port, false, 2)).containsExactly("127.0.0.7", "127.0.0.7");
            // The kept-alive connection of 127.0.0.7 is idle now: 127.0.0.8 must not be sent on it.
            assertThat(curl("127.0.0.8", port, false, 1)).containsExactly("127.0.0.8");
            assertThat(curl("127.0.0.7", port, false, 1)).containsExactly("127.0.0.7");
            assertThat(g.stats().upstreamConnectionsOpened())
                    .as("127.0.0.7's connection is reused, one more for 127.0.0.8")
                    .isEqualTo(2);
            assertThat(nginx.accessLog()).contains("127.0.0.7 127.0.0.1", "127.0.0.8 127.0.0.1");
        }
    }

    @Test
    void eachClientsAddressReachesTheEndpointInAV2HeaderOverHttp2() throws Exception {
        try (Gateway g = gateway(ProxyProtocolVersion.V2, ListenerOptions.DEFAULTS)) {
            int port = g.address("web").getPort();
            // One request per curl: curl 7.88 fails its second request on a reused h2c prior-knowledge connection.
            assertThat(curl("127.0.0.8", port, true, 1)).containsExactly("127.0.0.8");
            assertThat(curl("127.0.0.7", port, true, 1)).containsExactly("127.0.0.7");
            assertThat(curl("127.0.0.8", port, true, 1)).containsExactly("127.0.0.8");
            assertThat(curl("127.0.0.8", port, false, 1)).containsExactly("127.0.0.8");
            assertThat(g.stats().upstreamConnectionsOpened())
                    .as("one upstream connection per client address, reused by its later exchanges")
                    .isEqualTo(2);
        }
    }

    @Test
    void theClientOfATrustedPeersHeaderIsTheOneToldOn() throws Exception {
        try (Gateway g = gateway(
                        ProxyProtocolVersion.V2,
                        ListenerOptions.DEFAULTS.withProxyProtocol(ProxyProtocolAccept.from("127.0.0.0/8")));
                Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", g.address("web").getPort()));
            s.getOutputStream()
                    .write(("PROXY TCP4 192.0.2.9 127.0.0.1 5555 80\r\n"
                                    + "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            String reply = new String(readToEnd(s), StandardCharsets.US_ASCII);
            assertThat(reply).startsWith("HTTP/1.1 200").endsWith("\r\n\r\n192.0.2.9\n");
        }
    }

    @Test
    void withoutTheSettingNoHeaderIsSentAndTheEndpointRefusesTheRequest() throws Exception {
        try (Gateway g = gateway(null, ListenerOptions.DEFAULTS)) {
            Process p = new ProcessBuilder(
                            "curl",
                            "-sS",
                            "-o",
                            "/dev/null",
                            "-w",
                            "%{http_code}",
                            "--max-time",
                            "10",
                            "http://127.0.0.1:" + g.address("web").getPort() + "/")
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
            // nginx closes a proxy_protocol connection that starts without a header: Torii answers 502.
            assertThat(out).isEqualTo("502");
        }
    }

    @Test
    void healthChecksSayTheyCarryNoClientAndAreAnswered() throws Exception {
        for (ProxyProtocolVersion version : ProxyProtocolVersion.values()) {
            int before = nginx.accessLog().size();
            Upstream upstream = Upstream.builder("app")
                    .endpoint(nginx.hostPort())
                    .proxyProtocol(version)
                    .healthCheck(HealthCheck.of("/")
                            .every(Duration.ofMillis(100), Duration.ofMillis(100))
                            .thresholds(1, 1))
                    .build();
            try (Gateway g = Gateway.builder()
                    .listener(Listener.http("web", "127.0.0.1:0"))
                    .ioThreads(1)
                    .routingTable(RoutingTable.builder()
                            .upstream(upstream)
                            .route(Route.builder("all").upstream("app").build())
                            .build())
                    .build()
                    .start()) {
                // Without a header nginx closes the connection before any request, and logs none.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (nginx.accessLog().size() < before + 3 && System.nanoTime() < deadline) {
                    Thread.sleep(50); // the checks run on the gateway's own schedule: no event to wait on
                }
                List<String> checks =
                        nginx.accessLog().subList(before, nginx.accessLog().size());
                assertThat(checks).as(version + ": checks answered").hasSizeGreaterThanOrEqualTo(3);
                // PROXY UNKNOWN (v1) and LOCAL (v2) give no $proxy_protocol_addr (nginx logs "-").
                assertThat(checks).as(version.toString()).allMatch(line -> line.equals("- 127.0.0.1"));
                assertThat(g.upstreamHealth()).singleElement().matches(EndpointStatus::healthy);
            }
        }
    }

    private static byte[] readToEnd(Socket s) throws IOException {
        s.setSoTimeout(10_000);
        var out = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
        } catch (SocketException reset) {
            // a reset ends the stream too
        }
        return out.toByteArray();
    }
}
