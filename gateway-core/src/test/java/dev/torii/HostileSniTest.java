package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestCertificates;
import dev.torii.testing.TestUpstream;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
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
 * SNI names that Java's {@code SNIHostName} refuses (an underscore, a port, a leading hyphen): the connection is served
 * with the default certificate over HTTP/1.1 and h2, and hooks see the name as the client sent it.
 */
class HostileSniTest {
    private static TestCertificates certs;
    private static TestUpstream upstream;
    private static Gateway gateway;

    /** Answers every request with the SNI name the hook sees. */
    private static final Hook SHOW_SNI = new Hook() {
        @Override
        public HookResult onRequest(Exchange exchange) {
            return HookResult.respond(200, "sni=" + exchange.tls().serverName() + "\n");
        }
    };

    @BeforeAll
    static void start() throws IOException {
        certs = TestCertificates.create();
        TestCertificates.Issued site = certs.issue("a.test");
        upstream = TestUpstream.start();
        gateway = Gateway.builder()
                .listener(Listener.https(
                        "secure",
                        "127.0.0.1:0",
                        ServerTls.builder()
                                .certificates(List.of(CertificateFiles.of(site.cert(), site.key())))
                                .build()))
                .hook(SHOW_SNI)
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
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
        if (certs != null) {
            certs.close();
        }
    }

    private static String run(List<String> cmd, String stdin) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().write(stdin.getBytes(StandardCharsets.US_ASCII));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"bad_name", "a.test:443", "-lead.test", "a.test"})
    void http11IsServedAndTheHookSeesTheRawName(String sni) throws Exception {
        String out = run(
                List.of(
                        "openssl",
                        "s_client",
                        "-quiet",
                        "-ign_eof",
                        "-alpn",
                        "http/1.1",
                        "-connect",
                        "127.0.0.1:" + gateway.address("secure").getPort(),
                        "-servername",
                        sni),
                "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
        assertThat(out).contains("HTTP/1.1 200").contains("sni=" + sni + "\n");
    }

    @ParameterizedTest
    // curl will not connect to a host that starts with a hyphen, so h2 is tried with underscores only.
    @ValueSource(strings = {"bad_name", "x_y.a.test"})
    void h2IsServedAndTheHookSeesTheRawName(String sni) throws Exception {
        int port = gateway.address("secure").getPort();
        var cmd = new ArrayList<String>(List.of(
                "curl",
                "-sS",
                "--max-time",
                "15",
                "--http2",
                "-k",
                "-w",
                "|%{http_version}",
                "--resolve",
                sni + ":" + port + ":127.0.0.1",
                "https://" + sni + ":" + port + "/"));
        String out = run(cmd, "");
        assertThat(out).isEqualTo("sni=" + sni + "\n|2");
    }
}
