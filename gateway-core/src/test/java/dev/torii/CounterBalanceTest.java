package dev.torii;

import static dev.torii.testing.RawH2Client.CONTINUATION;
import static dev.torii.testing.RawH2Client.DATA;
import static dev.torii.testing.RawH2Client.HEADERS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.testing.TestCertificates;
import dev.torii.testing.TestUpstream;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gauges of {@link GatewayStats} (open connections, active exchanges, TCP connections) return to their baseline
 * after every hostile case the hardening tests produce: malformed HTTP/1.1, strict request line refusals, slowloris,
 * HTTP/2 malformed requests, resets, rapid reset and other floods, stream-state errors, TLS failures, hostile SNI,
 * path-normalisation refusals and redirects, upstream timeouts.
 */
class CounterBalanceTest {
    private static TestCertificates certs;
    private static TestUpstream upstream;
    private static Gateway gateway;

    @BeforeAll
    static void start() throws IOException {
        certs = TestCertificates.create();
        TestCertificates.Issued site = certs.issue("a.test");
        upstream = TestUpstream.start((req, res) -> {
            if (req.uri().startsWith("/never")) {
                return; // no answer: the upstream response timeout
            }
            res.respond(200, List.of(), "ok\n");
        });
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .listener(Listener.http("canonical", "127.0.0.1:0")
                        .withOptions(ListenerOptions.DEFAULTS.withPathNormalization(
                                new PathNormalization(true, true, PathNormalization.EscapedSlashes.REDIRECT))))
                .listener(Listener.https(
                        "secure",
                        "127.0.0.1:0",
                        ServerTls.builder()
                                .certificates(List.of(CertificateFiles.of(site.cert(), site.key())))
                                .build()))
                .hook(new Hook() {
                    @Override
                    public HookResult onRequest(Exchange exchange) {
                        return exchange.request().path().startsWith("/refuse")
                                ? HookResult.respond(403, "no\n")
                                : HookResult.proceed();
                    }
                })
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .responseTimeout(Duration.ofMillis(300))
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .limits(Limits.builder()
                        .headerReadTimeout(Duration.ofMillis(300))
                        .idleTimeout(Duration.ofSeconds(2))
                        .build())
                .http2Limits(Http2Limits.builder()
                        .maxResetsPerWindow(10)
                        .maxControlFramesPerWindow(20)
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

    private static InetSocketAddress address(String listener) {
        return new InetSocketAddress("127.0.0.1", gateway.address(listener).getPort());
    }

    /** Waits (bounded) until no connection is open and no exchange active, then checks every gauge. */
    private static void assertBalanced(String after) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        GatewayStats s = gateway.stats();
        while ((s.openConnections() != 0 || s.activeExchanges() != 0) && System.nanoTime() < deadline) {
            Thread.sleep(10);
            s = gateway.stats();
        }
        assertThat(s.openConnections()).as("open connections after %s", after).isZero();
        assertThat(s.activeExchanges()).as("active exchanges after %s", after).isZero();
        assertThat(s.tcpConnections()).as("TCP connections after %s", after).isZero();
    }

    /** Writes {@code bytes} on a new connection to {@code listener} and reads until the gateway closes it. */
    private static String raw(String listener, String bytes) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(address(listener), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(bytes.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    private static String openssl(String sni, String request) throws Exception {
        Process p = new ProcessBuilder(
                        "openssl",
                        "s_client",
                        "-quiet",
                        "-ign_eof",
                        "-alpn",
                        "http/1.1",
                        "-connect",
                        "127.0.0.1:" + gateway.address("secure").getPort(),
                        "-servername",
                        sni)
                .redirectErrorStream(true)
                .start();
        p.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    @Test
    void malformedAndRefusedHttp11LeavesNoCountBehind() throws Exception {
        assertBalanced("start");
        assertThat(raw("web", "GET / HTTP/9.9\r\nHost: a\r\n\r\n")).startsWith("HTTP/1.1 505");
        assertBalanced("HTTP/9.9");
        assertThat(raw("web", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertBalanced("a doubled space");
        assertThat(raw("web", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertBalanced("a fragment");
        assertThat(raw("web", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"))
                .startsWith("HTTP/1.1 400");
        assertBalanced("two content-lengths");
        assertThat(raw("web", "GET /../x HTTP/1.1\r\nHost: a\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertBalanced("a path above the root");
        assertThat(raw("canonical", "GET //x HTTP/1.1\r\nHost: a\r\n\r\n")).startsWith("HTTP/1.1 308");
        assertBalanced("a redirect to the normalised path");
        assertThat(raw("web", "GET / HTTP/1.1\r\nHo")).startsWith("HTTP/1.1 408");
        assertBalanced("slowloris (header read timeout)");
        assertThat(raw("web", "POST /refuse HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc"))
                .startsWith("HTTP/1.1 403");
        assertBalanced("a hook answering before the body");
        assertThat(raw("web", "GET /never HTTP/1.1\r\nHost: a\r\n\r\n")).startsWith("HTTP/1.1 504");
        assertBalanced("an upstream timeout");
        try (Socket s = new Socket()) {
            s.connect(address("web"), 5000);
            s.getOutputStream().write("POST /never HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab".getBytes());
            s.getOutputStream().flush();
            upstream.awaitHeads(1);
            s.setSoLinger(true, 0); // RST: the client vanishes mid-request
        }
        assertBalanced("a client that resets mid-request");
    }

    @Test
    void http2ResetsMalformedRequestsAndFloodsLeaveNoCountBehind() throws Exception {
        assertBalanced("start");
        try (RawH2Client c = RawH2Client.connect(address("web"))) {
            c.headers(1, RawH2Client.request("GET", "/x", "a").add("connection", "x"), true)
                    .flush();
            assertThat(c.await(1).reset()).isTrue();
            c.headers(3, RawH2Client.request("GET", "/x", "a").scheme("https"), true)
                    .flush();
            assertThat(c.await(3).reset()).isTrue();
            c.headers(5, RawH2Client.request("POST", "/never", "a"), false)
                    .data(5, "ab".getBytes(), false)
                    .flush();
            c.rst(5, 0x8).flush();
            c.headers(7, RawH2Client.request("POST", "/refuse", "a"), false).flush();
            assertThat(c.await(7).status()).isEqualTo(403);
            c.headers(9, RawH2Client.request("GET", "/never", "a"), true).flush();
            assertThat(c.await(9).status()).isEqualTo(504);
            c.headers(11, RawH2Client.request("GET", "/ok", "a"), true).flush();
            assertThat(c.await(11).status()).isEqualTo(200);
            c.data(11, "x".getBytes(), false).flush();
            assertThat(c.awaitGoAway()).as("DATA on a closed stream").isEqualTo(RawH2Client.STREAM_CLOSED);
        }
        assertBalanced("h2 malformed requests, a reset mid-request, an early response, a timeout, a closed stream");
        try (RawH2Client c = RawH2Client.connect(address("web"))) {
            for (int i = 0; i < 20; i++) {
                c.headers(1 + 2 * i, RawH2Client.request("GET", "/never/" + i, "a"), true)
                        .rst(1 + 2 * i, 0x8);
            }
            c.flush();
            c.awaitGoAway();
        } catch (IOException e) {
            // closed while writing: stopped too
        }
        assertBalanced("rapid reset");
        for (Map.Entry<String, RawH2ClientAttack> flood : Map.<String, RawH2ClientAttack>of(
                        "continuation",
                        c -> {
                            c.frame(HEADERS, 0, 1, c.encode(1, RawH2Client.request("GET", "/c", "a")));
                            for (int i = 0; i < 40; i++) {
                                c.frame(CONTINUATION, 0, 1, new byte[] {0x40, 0x01, 'x', 0x00});
                            }
                        },
                        "empty data",
                        c -> {
                            c.headers(1, RawH2Client.request("POST", "/e", "a"), false);
                            for (int i = 0; i < 10; i++) {
                                c.frame(DATA, 0, 1, new byte[0]);
                            }
                        },
                        "ping",
                        c -> {
                            for (int i = 0; i < 30; i++) {
                                c.ping(i);
                            }
                        },
                        "broken preface",
                        c -> {})
                .entrySet()) {
            if (flood.getKey().equals("broken preface")) {
                assertThat(raw("web", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")).isNotEmpty();
            } else {
                try (RawH2Client c = RawH2Client.connect(address("web"))) {
                    flood.getValue().run(c);
                    c.flush();
                    c.awaitGoAway();
                } catch (IOException e) {
                    // closed while writing
                }
            }
            assertBalanced(flood.getKey());
        }
    }

    @FunctionalInterface
    interface RawH2ClientAttack {
        void run(RawH2Client c) throws IOException;
    }

    @Test
    void tlsFailuresAndHostileSniLeaveNoCountBehind() throws Exception {
        assertBalanced("start");
        assertThat(raw("secure", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")).doesNotContain("200");
        assertBalanced("plain text on the TLS port");
        try (Socket s = new Socket()) {
            s.connect(address("secure"), 5000);
            s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0});
            s.getOutputStream().flush();
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            in.readAllBytes();
        } catch (IOException e) {
            // reset by the gateway: fine
        }
        assertBalanced("a broken ClientHello");
        try (Socket s = new Socket()) {
            s.connect(address("secure"), 5000);
            s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01});
            s.getOutputStream().flush();
        }
        assertBalanced("a client gone in the middle of its ClientHello");
        for (String sni : List.of("bad_name", "a.test:443", "-lead.test")) {
            assertThat(openssl(sni, "GET /ok HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"))
                    .contains("HTTP/1.1 200");
            assertBalanced("SNI " + sni);
        }
        try (RawH2Client c = RawH2Client.connectTls(address("secure"))) {
            c.headers(1, RawH2Client.request("GET", "/ok", "a.test").scheme("http"), true)
                    .flush();
            assertThat(c.await(1).reset()).isTrue();
        }
        assertBalanced("h2 over TLS with :scheme http");
    }
}
