package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.proxyprotocol.ProxyProtocolAccept;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.ProxyProtocolPeers;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The PROXY protocol on an HTTP listener: a header from a trusted balancer names the client whose address the exchanges
 * see (X-Forwarded-For, {@link Exchange#clientAddress()}, hence rate-limit keys, IP lists and the access log), over
 * HTTP/1.1 and h2c; a header from any other peer is not believed. Real HAProxy sends PROXY v2; curl connects to it from
 * 127.0.0.7 so the client is told apart from the balancer's 127.0.0.1.
 */
class ProxyProtocolHttpTest {
    private static Gateway gateway(TestUpstream upstream, String trusted, List<InetSocketAddress> seen) {
        Hook record = new Hook() {
            @Override
            public String name() {
                return "record";
            }

            @Override
            public HookResult onRequest(Exchange ex) {
                seen.add(ex.clientAddress());
                return HookResult.proceed();
            }
        };
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0")
                        .withOptions(ListenerOptions.DEFAULTS.withProxyProtocol(ProxyProtocolAccept.from(trusted))))
                .hook(record)
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .build()
                .start();
    }

    private static String forwardedFor(TestUpstream upstream) {
        return upstream.awaitRequest().headers().stream()
                .filter(h -> h.getKey().equalsIgnoreCase("x-forwarded-for"))
                .map(Map.Entry::getValue)
                .findFirst()
                .orElse(null);
    }

    private static String curlFrom7(String... args) throws Exception {
        var cmd = new java.util.ArrayList<>(List.of("curl", "-sS", "--max-time", "10", "--interface", "127.0.0.7"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return out.strip();
    }

    @Test
    void haproxysV2HeaderNamesTheClientOverHttp11AndH2c() throws Exception {
        for (String protocol : List.of("--http1.1", "--http2-prior-knowledge")) {
            List<InetSocketAddress> seen = new CopyOnWriteArrayList<>();
            try (TestUpstream upstream = TestUpstream.start();
                    Gateway g = gateway(upstream, "127.0.0.1/32", seen);
                    var haproxy = ProxyProtocolPeers.Haproxy.start(
                            "127.0.0.1:" + g.address("web").getPort())) {
                String body = curlFrom7(protocol, "http://127.0.0.1:" + haproxy.port() + "/who");
                assertThat(body).as(protocol).isEqualTo("GET /who");
                assertThat(forwardedFor(upstream)).as(protocol).isEqualTo("127.0.0.7");
                assertThat(seen.getLast().getAddress().getHostAddress())
                        .as(protocol)
                        .isEqualTo("127.0.0.7");
            }
        }
    }

    @Test
    void aV1HeaderFromATrustedPeerIsReadBeforeTheRequest() throws Exception {
        List<InetSocketAddress> seen = new CopyOnWriteArrayList<>();
        try (TestUpstream upstream = TestUpstream.start();
                Gateway g = gateway(upstream, "127.0.0.0/8", seen);
                Socket s = new Socket(
                        InetAddress.getLoopbackAddress(), g.address("web").getPort())) {
            s.getOutputStream()
                    .write(("PROXY TCP4 192.0.2.9 127.0.0.1 5555 80\r\n"
                                    + "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(readToEnd(s), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
            assertThat(forwardedFor(upstream)).isEqualTo("192.0.2.9");
            assertThat(seen).singleElement().isEqualTo(new InetSocketAddress("192.0.2.9", 5555));
        }
    }

    @Test
    void anUntrustedPeersHeaderIsNotBelieved() throws Exception {
        List<InetSocketAddress> seen = new CopyOnWriteArrayList<>();
        try (TestUpstream upstream = TestUpstream.start();
                Gateway g = gateway(upstream, "10.0.0.0/8", seen);
                Socket s = new Socket(
                        InetAddress.getLoopbackAddress(), g.address("web").getPort())) {
            s.getOutputStream()
                    .write(("PROXY TCP4 192.0.2.9 127.0.0.1 5555 80\r\n"
                                    + "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(readToEnd(s), StandardCharsets.US_ASCII))
                    .as("the header is a malformed request line from a direct client")
                    .startsWith("HTTP/1.1 400");
            assertThat(seen).isEmpty();
            assertThat(upstream.heads()).isEmpty();
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
