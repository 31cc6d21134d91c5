package dev.torii.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.Listener;
import dev.torii.ListenerOptions;
import dev.torii.route.RoutingTable;
import dev.torii.testing.OpenSslServer;
import dev.torii.testing.TestCertificates;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
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
 * SNI passthrough end to end: three real TLS servers ({@code openssl s_server}) behind one TCP listener, reached by
 * curl and {@code openssl s_client} with different server names. Each server's certificate is verified by the client
 * against the test CA, and each serves its own {@code /id.txt}, so the answer says which TLS server the session
 * reached: Torii read the name and routed, but did not terminate TLS.
 */
class SniPassthroughTest {
    private static TestCertificates certs;
    private static OpenSslServer a;
    private static OpenSslServer b;
    private static OpenSslServer c;

    @BeforeAll
    static void startServers() throws IOException {
        certs = TestCertificates.create();
        a = OpenSslServer.start("A", certs.issue("a.example", "hook.example"));
        b = OpenSslServer.start("B", certs.issue("one.b.example", "two.x.b.example"));
        c = OpenSslServer.start("C", certs.issue("c.example", "other.example", "b.example"));
    }

    @AfterAll
    static void stopServers() {
        for (AutoCloseable s : new AutoCloseable[] {a, b, c, certs}) {
            try {
                if (s != null) {
                    s.close();
                }
            } catch (Exception e) {
                // best effort
            }
        }
    }

    private static Gateway gateway(SniRouting sni, Hook... hooks) {
        var listener = TcpListener.builder("tls", "127.0.0.1:0", "c")
                .options(ListenerOptions.DEFAULTS.withSni(sni))
                .idleTimeout(Duration.ofSeconds(30));
        for (Hook h : hooks) {
            listener.hook(h);
        }
        return Gateway.builder()
                .listener(listener.build())
                .ioThreads(1)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("a").endpoint(a.hostPort()).build())
                        .upstream(Upstream.builder("b").endpoint(b.hostPort()).build())
                        .upstream(Upstream.builder("c").endpoint(c.hostPort()).build())
                        .build())
                .build()
                .start();
    }

    private static SniRouting.Builder routes() {
        return SniRouting.builder().route("a.example", "a").route("*.b.example", "b");
    }

    /** curl to https://NAME:PORT/id.txt with the test CA; the body, or "exit N: output" when curl failed. */
    private static String curl(Gateway g, String name) throws Exception {
        int port = g.address("tls").getPort();
        return run(
                "curl",
                "-sS",
                "--max-time",
                "10",
                "--cacert",
                certs.caCert().toString(),
                "--resolve",
                name + ":" + port + ":127.0.0.1",
                "https://" + name + ":" + port + "/id.txt");
    }

    private static String run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return p.exitValue() == 0 ? out.strip() : "exit " + p.exitValue() + ": " + out.strip();
    }

    @Test
    void exactAndWildcardNamesReachTheirTlsServersAndOthersTheListenersUpstream() throws Exception {
        try (Gateway g = gateway(routes().build())) {
            assertThat(curl(g, "a.example")).isEqualTo("A");
            assertThat(curl(g, "one.b.example")).as("*.b.example").isEqualTo("B");
            assertThat(curl(g, "two.x.b.example"))
                    .as("*.b.example, two labels deep")
                    .isEqualTo("B");
            assertThat(curl(g, "b.example"))
                    .as("the wildcard's own domain is not under it")
                    .isEqualTo("C");
            assertThat(curl(g, "other.example"))
                    .as("no route: the listener's upstream")
                    .isEqualTo("C");
            assertThat(g.stats().tcpConnectionsTotal()).isEqualTo(5);
        }
    }

    @Test
    void aClientHelloWithoutServerNameGoesToTheListenersUpstream() throws Exception {
        try (Gateway g = gateway(routes().build())) {
            int port = g.address("tls").getPort();
            Process p = new ProcessBuilder(
                            "openssl",
                            "s_client",
                            "-connect",
                            "127.0.0.1:" + port,
                            "-noservername",
                            "-CAfile",
                            certs.caCert().toString(),
                            "-quiet",
                            "-ign_eof")
                    .redirectErrorStream(true)
                    .start();
            p.getOutputStream().write("GET /id.txt HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(out).contains("HTTP/1.0 200 ok").endsWith("C\n");
            assertThat(out).contains("CN = c.example");
        }
    }

    @Test
    void connectHooksSeeTheServerNameAndMayRouteByIt() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        Hook hook = new Hook() {
            @Override
            public String name() {
                return "by-sni";
            }

            @Override
            public ConnectResult onConnect(Connection conn) {
                seen.add(conn.sni() + "->" + conn.upstream());
                if ("hook.example".equals(conn.sni())) {
                    conn.useUpstream("a");
                }
                return ConnectResult.proceed();
            }
        };
        try (Gateway g = gateway(routes().build(), hook)) {
            assertThat(curl(g, "hook.example")).isEqualTo("A");
            assertThat(curl(g, "one.b.example")).isEqualTo("B");
            assertThat(seen).containsExactly("hook.example->c", "one.b.example->b");
        }
    }

    @Test
    void unknownNamesAndNonTlsClientsAreRefusedWhenTheRoutingSaysSo() throws Exception {
        try (Gateway g = gateway(routes().refuseUnknown(true).build())) {
            assertThat(curl(g, "a.example")).isEqualTo("A");
            assertThat(curl(g, "other.example")).startsWith("exit ");
            try (Socket s = new Socket(
                    InetAddress.getLoopbackAddress(), g.address("tls").getPort())) {
                s.getOutputStream().write("GET / HTTP/1.1\r\nhost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(readToEnd(s)).as("closed without an answer").isEmpty();
            }
            assertThat(g.stats().tcpConnectionsRejected()).isEqualTo(2);
        }
    }

    @Test
    void aClientThatSendsNoClientHelloInTimeIsClosed() throws Exception {
        try (Gateway g = gateway(
                        routes().clientHelloTimeout(Duration.ofMillis(200)).build());
                Socket s = new Socket(
                        InetAddress.getLoopbackAddress(), g.address("tls").getPort())) {
            // A partial record header only: the parser waits for more until its deadline.
            s.getOutputStream().write(new byte[] {0x16, 0x03});
            assertThat(readToEnd(s)).isEmpty();
            assertThat(g.stats().upstreamConnectionsOpened()).isZero();
        }
    }

    @Test
    void routesAreCheckedAndOnlyTcpListenersTakeThem() {
        assertThatThrownBy(() -> SniRouting.builder().route("A.example", "a").build())
                .hasMessageContaining("'A.example' (expected: a lower-case host name");
        assertThatThrownBy(() -> SniRouting.builder().route("a.*.example", "a").build())
                .hasMessageContaining("'a.*.example'");
        assertThatThrownBy(() -> SniRouting.builder().route("a.example", " ").build())
                .hasMessageContaining("upstream ' ' (expected: an upstream name)");
        assertThatThrownBy(() -> Listener.http("web", "127.0.0.1:0")
                        .withOptions(ListenerOptions.DEFAULTS.withSni(routes().build())))
                .hasMessageContaining("for TCP listeners");
        SniRouting r = routes().route("*.x.b.example", "c").build();
        assertThat(r.upstreamFor("Deep.X.B.Example", "d"))
                .as("longest wildcard, any case")
                .isEqualTo("c");
        assertThat(r.upstreamFor(null, "d")).isEqualTo("d");
    }

    private static byte[] readToEnd(Socket s) throws IOException {
        s.setSoTimeout(10_000);
        var out = new java.io.ByteArrayOutputStream();
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
