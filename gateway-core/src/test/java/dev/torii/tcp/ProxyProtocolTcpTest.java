package dev.torii.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.Listener;
import dev.torii.ListenerOptions;
import dev.torii.proxyprotocol.ProxyProtocolAccept;
import dev.torii.proxyprotocol.ProxyProtocolVersion;
import dev.torii.route.RoutingTable;
import dev.torii.testing.ProxyProtocolPeers;
import dev.torii.upstream.Upstream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The PROXY protocol on TCP listeners, between real peers: HAProxy sends PROXY v2 to Torii, and Torii sends PROXY v1 or
 * v2 to an nginx that listens with {@code proxy_protocol} and answers (and logs) {@code $proxy_protocol_addr}. Clients
 * connect from 127.0.0.7 so that their address is told apart from the proxies' 127.0.0.1.
 */
class ProxyProtocolTcpTest {
    private static ProxyProtocolPeers.Nginx nginx;

    @BeforeAll
    static void startNginx() {
        nginx = ProxyProtocolPeers.Nginx.start();
    }

    @AfterAll
    static void stopNginx() {
        nginx.close();
    }

    private static Gateway gateway(ListenerOptions options, List<InetSocketAddress> seen) {
        Hook record = new Hook() {
            @Override
            public String name() {
                return "record";
            }

            @Override
            public ConnectResult onConnect(Connection conn) {
                seen.add(conn.clientAddress());
                return ConnectResult.proceed();
            }
        };
        return Gateway.builder()
                .listener(TcpListener.builder("pp", "127.0.0.1:0", "web")
                        .options(options)
                        .hook(record)
                        .build())
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("web")
                                .endpoint(nginx.hostPort())
                                .build())
                        .build())
                .build()
                .start();
    }

    private static String curlFrom7(int port) throws Exception {
        Process p = new ProcessBuilder(
                        "curl", "-sS", "--max-time", "10", "--interface", "127.0.0.7", "http://127.0.0.1:" + port + "/")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return out.strip();
    }

    @Test
    void haproxysV2HeaderGivesTheClientAddressWhichTorriSendsOnAsV1() throws Exception {
        List<InetSocketAddress> seen = new CopyOnWriteArrayList<>();
        try (Gateway g = gateway(
                        ListenerOptions.DEFAULTS
                                .withProxyProtocol(ProxyProtocolAccept.from("127.0.0.1/32"))
                                .withSendProxyProtocol(ProxyProtocolVersion.V1),
                        seen);
                var haproxy = ProxyProtocolPeers.Haproxy.start(
                        "127.0.0.1:" + g.address("pp").getPort())) {
            assertThat(curlFrom7(haproxy.port())).isEqualTo("127.0.0.7");
            // HAProxy forwards the fixture's readiness probe too (from 127.0.0.1); curl's connection is the last.
            assertThat(seen.getLast().getAddress().getHostAddress()).isEqualTo("127.0.0.7");
            assertThat(nginx.accessLog()).contains("127.0.0.7 127.0.0.1");
        }
    }

    @Test
    void aV1HeaderFromATrustedPeerIsReadAndV2IsSentOn() throws Exception {
        List<InetSocketAddress> seen = new CopyOnWriteArrayList<>();
        try (Gateway g = gateway(
                        ListenerOptions.DEFAULTS
                                .withProxyProtocol(ProxyProtocolAccept.from("127.0.0.0/8"))
                                .withSendProxyProtocol(ProxyProtocolVersion.V2),
                        seen);
                Socket s = new Socket(
                        InetAddress.getLoopbackAddress(), g.address("pp").getPort())) {
            s.getOutputStream()
                    .write("PROXY TCP4 192.0.2.9 127.0.0.1 5555 80\r\nGET / HTTP/1.0\r\n\r\n"
                            .getBytes(StandardCharsets.US_ASCII));
            String reply = new String(readToEnd(s), StandardCharsets.US_ASCII);
            assertThat(reply).startsWith("HTTP/1.1 200").endsWith("\r\n\r\n192.0.2.9\n");
            assertThat(seen).singleElement().isEqualTo(new InetSocketAddress("192.0.2.9", 5555));
        }
    }

    @Test
    void anUntrustedPeersHeaderIsNotBelievedAndTheBackendIsToldThePeer() throws Exception {
        List<InetSocketAddress> seen = new CopyOnWriteArrayList<>();
        try (Gateway g = gateway(
                ListenerOptions.DEFAULTS
                        .withProxyProtocol(ProxyProtocolAccept.from("10.0.0.0/8"))
                        .withSendProxyProtocol(ProxyProtocolVersion.V2),
                seen)) {
            int port = g.address("pp").getPort();
            assertThat(curlFrom7(port)).as("a direct client, told on as itself").isEqualTo("127.0.0.7");
            try (Socket s = new Socket()) {
                s.bind(new InetSocketAddress("127.0.0.7", 0));
                s.connect(new InetSocketAddress("127.0.0.1", port));
                s.getOutputStream()
                        .write("PROXY TCP4 192.0.2.9 127.0.0.1 5555 80\r\nGET / HTTP/1.0\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                String reply = new String(readToEnd(s), StandardCharsets.US_ASCII);
                assertThat(reply).as("the claimed header reached nginx as data").startsWith("HTTP/1.1 400");
            }
            assertThat(seen).extracting(a -> a.getAddress().getHostAddress()).containsExactly("127.0.0.7", "127.0.0.7");
        }
    }

    @Test
    void aTrustedPeerWithoutAValidHeaderIsClosedBeforeAnyBackend() throws Exception {
        List<InetSocketAddress> seen = new CopyOnWriteArrayList<>();
        try (Gateway g = gateway(
                ListenerOptions.DEFAULTS.withProxyProtocol(
                        new ProxyProtocolAccept(List.of("127.0.0.0/8"), Duration.ofMillis(200))),
                seen)) {
            int port = g.address("pp").getPort();
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(readToEnd(s)).as("not a PROXY header").isEmpty();
            }
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                assertThat(readToEnd(s)).as("no header in time").isEmpty();
            }
            assertThat(seen).isEmpty();
            assertThat(g.stats().upstreamConnectionsOpened()).isZero();
        }
    }

    @Test
    void settingsAreChecked() {
        assertThatThrownBy(() -> ProxyProtocolAccept.from()).hasMessageContaining("trustedCidrs: [] (expected");
        assertThatThrownBy(() -> ProxyProtocolAccept.from("10.0.0.0/33"))
                .hasMessageContaining("'10.0.0.0/33' (expected: a CIDR block");
        assertThatThrownBy(() -> Listener.http("web", "127.0.0.1:0")
                        .withOptions(ListenerOptions.DEFAULTS.withSendProxyProtocol(ProxyProtocolVersion.V2)))
                .hasMessageContaining("for TCP listeners");
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
