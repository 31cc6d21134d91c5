package dev.torii;

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
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * HTTP/2 from clients to the gateway, with real clients: curl (h2 over TLS by ALPN, h2c by prior knowledge and by
 * upgrade, HTTP/1.1 by ALPN, TLS 1.2 and 1.3, SNI), the JDK's HttpClient (many streams on one connection), and
 * {@link RawH2Client} where frames must be exactly as written. The upstream is HTTP/1.1.
 */
class Http2DownstreamTest {
    private static TestCertificates certs;
    private static TestCertificates.Issued siteA;
    private static TestCertificates.Issued siteB;
    private static Path served;
    private static TestUpstream upstream;
    private static Gateway gateway;

    /** Answers with what the upstream saw: method, target, Host and the body's length. */
    private static final TestUpstream.Handler DESCRIBE = (req, res) -> res.respond(
            200,
            List.of(Map.entry("Content-Type", "text/plain")),
            req.method() + " " + req.uri() + " host=" + req.header("host") + " body=" + req.body().length + "\n");

    @BeforeAll
    static void start() throws IOException {
        certs = TestCertificates.create();
        siteA = certs.issue("a.test", "*.a.test");
        siteB = certs.issue("b.test");
        // The gateway serves copies, so that a test can replace them to check reloading.
        served = Files.createDirectories(certs.directory().resolve("served"));
        Files.copy(siteA.cert(), served.resolve("a.pem"));
        Files.copy(siteA.key(), served.resolve("a.key"));
        upstream = TestUpstream.start(DESCRIBE);
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .listener(Listener.https(
                        "secure",
                        "127.0.0.1:0",
                        ServerTls.builder()
                                .certificates(List.of(
                                        CertificateFiles.of(served.resolve("a.pem"), served.resolve("a.key")),
                                        CertificateFiles.of(siteB.cert(), siteB.key())))
                                .reloadInterval(Duration.ZERO)
                                .build()))
                .listener(Listener.https(
                        "jdk",
                        "127.0.0.1:0",
                        ServerTls.builder()
                                .certificates(List.of(CertificateFiles.of(siteB.cert(), siteB.key())))
                                .provider(ServerTls.Provider.JDK)
                                .build()))
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

    private static int port(String listener) {
        return gateway.address(listener).getPort();
    }

    /** Runs curl; returns stdout, with {@code -w} output last; stderr (the -v trace) goes to {@code trace}. */
    private static Curl curl(String... args) throws IOException, InterruptedException {
        var cmd = new ArrayList<String>(List.of("curl", "-sS", "-v", "--max-time", "15"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        return new Curl(p.exitValue(), new String(out, StandardCharsets.UTF_8), err);
    }

    record Curl(int exit, String out, String trace) {}

    private static String https(String host) {
        return "https://" + host + ":" + port("secure") + "/";
    }

    private static String resolve(String host) {
        return host + ":" + port("secure") + ":127.0.0.1";
    }

    @Test
    void h2OverTlsByAlpnWithSniPickingTheCertificate() throws Exception {
        Curl a = curl(
                "--http2",
                "--cacert",
                certs.caCert().toString(),
                "--resolve",
                resolve("a.test"),
                "-w",
                "|%{http_version}",
                https("a.test") + "x?q=1");
        assertThat(a.exit()).as(a.trace()).isZero();
        assertThat(a.out()).isEqualTo("GET /x?q=1 host=a.test:" + port("secure") + " body=0\n|2");
        assertThat(a.trace()).contains("ALPN: server accepted h2").contains("CN=a.test");

        Curl wildcard = curl(
                "--http2",
                "--cacert",
                certs.caCert().toString(),
                "--resolve",
                resolve("www.a.test"),
                "-w",
                "|%{http_version}",
                https("www.a.test"));
        assertThat(wildcard.exit()).as(wildcard.trace()).isZero();
        assertThat(wildcard.trace()).contains("CN=a.test");

        Curl b = curl(
                "--http2",
                "--cacert",
                certs.caCert().toString(),
                "--resolve",
                resolve("b.test"),
                "-w",
                "|%{http_version}",
                https("b.test"));
        assertThat(b.exit()).as(b.trace()).isZero();
        assertThat(b.out()).endsWith("|2");
        assertThat(b.trace()).contains("CN=b.test");

        var seen = upstream.requests().getLast();
        assertThat(seen.header("via")).isEqualTo("2 torii");
        assertThat(seen.header("x-forwarded-proto")).isEqualTo("https");
        assertThat(seen.headerNames()).noneMatch(n -> n.startsWith("x-http2-"));
    }

    @Test
    void theJdkTlsProviderServesH2Too() throws Exception {
        int port = port("jdk");
        Curl c = curl(
                "--http2",
                "--cacert",
                certs.caCert().toString(),
                "--resolve",
                "b.test:" + port + ":127.0.0.1",
                "-w",
                "|%{http_version}",
                "https://b.test:" + port + "/jdk");
        assertThat(c.exit()).as(c.trace()).isZero();
        assertThat(c.out()).isEqualTo("GET /jdk host=b.test:" + port + " body=0\n|2");
    }

    @Test
    void http11ByAlpnAndBothTlsVersions() throws Exception {
        Curl h1 = curl(
                "--http1.1",
                "--cacert",
                certs.caCert().toString(),
                "--resolve",
                resolve("a.test"),
                "-w",
                "|%{http_version}",
                https("a.test"));
        assertThat(h1.exit()).as(h1.trace()).isZero();
        assertThat(h1.out()).endsWith("|1.1");
        assertThat(h1.trace()).contains("ALPN: server accepted http/1.1");

        for (String[] version : List.of(new String[] {"--tlsv1.2", "--tls-max", "1.2"}, new String[] {"--tlsv1.3"})) {
            var args = new ArrayList<String>(List.of(version));
            args.addAll(List.of(
                    "--http2",
                    "--cacert",
                    certs.caCert().toString(),
                    "--resolve",
                    resolve("a.test"),
                    "-w",
                    "|%{http_version}",
                    https("a.test")));
            Curl c = curl(args.toArray(String[]::new));
            assertThat(c.exit()).as(c.trace()).isZero();
            assertThat(c.out()).endsWith("|2");
            assertThat(c.trace()).contains(version[0].equals("--tlsv1.3") ? "TLSv1.3" : "TLSv1.2");
        }
    }

    @Test
    void h2cByPriorKnowledgeAndByUpgrade() throws Exception {
        String url = "http://127.0.0.1:" + port("web") + "/clear";
        Curl prior = curl("--http2-prior-knowledge", "-w", "|%{http_version}", url);
        assertThat(prior.exit()).as(prior.trace()).isZero();
        assertThat(prior.out()).isEqualTo("GET /clear host=127.0.0.1:" + port("web") + " body=0\n|2");

        Curl upgrade = curl("--http2", "-w", "|%{http_version}", url + "?up");
        assertThat(upgrade.exit()).as(upgrade.trace()).isZero();
        assertThat(upgrade.trace()).contains("101 Switching Protocols");
        assertThat(upgrade.out()).isEqualTo("GET /clear?up host=127.0.0.1:" + port("web") + " body=0\n|2");
        assertThat(upstream.requests().getLast().header("upgrade")).isNull();

        // An upgrade request with a body is served as HTTP/1.1 (RFC 9113 3.2 lets a server ignore the upgrade).
        Curl withBody = curl("--http2", "--data-binary", "hello", "-w", "|%{http_version}", url);
        assertThat(withBody.exit()).as(withBody.trace()).isZero();
        assertThat(withBody.out()).isEqualTo("POST /clear host=127.0.0.1:" + port("web") + " body=5\n|1.1");
        assertThat(upstream.requests().getLast().header("upgrade")).isNull();

        Curl plain = curl("--http1.1", "-w", "|%{http_version}", url);
        assertThat(plain.out()).endsWith("|1.1");
    }

    @Test
    void manyConcurrentStreamsOnOneConnectionFromTheJdkClient() throws Exception {
        try (HttpClient client =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()) {
            // The JDK client upgrades its first connection with h2c on a request without a body (a POST stays
            // HTTP/1.1), then sends everything else as streams on that connection.
            int before = gateway.stats().openConnections();
            HttpResponse<String> first = client.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port("web") + "/first"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(first.version()).isEqualTo(HttpClient.Version.HTTP_2);
            var futures = new ArrayList<CompletableFuture<HttpResponse<String>>>();
            for (int i = 0; i < 40; i++) {
                byte[] body = ("payload-" + i).repeat(100 * (i % 4)).getBytes(StandardCharsets.UTF_8);
                futures.add(client.sendAsync(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port("web") + "/n/" + i))
                                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                                .build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            for (int i = 0; i < futures.size(); i++) {
                HttpResponse<String> r = futures.get(i).get(20, TimeUnit.SECONDS);
                int length = ("payload-" + i).length() * 100 * (i % 4);
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
                assertThat(r.body())
                        .isEqualTo("POST /n/" + i + " host=127.0.0.1:" + port("web") + " body=" + length + "\n");
            }
            assertThat(gateway.stats().openConnections() - before).isLessThanOrEqualTo(1);
        }
    }

    @Test
    void responseTrailersAndLargeBodiesPassThrough() throws Exception {
        byte[] big = new byte[3 * 1024 * 1024 + 17];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31 + 7);
        }
        upstream.handler((req, res) -> {
            if (req.uri().equals("/trailers")) {
                res.stream(200, List.of(Map.entry("Content-Type", "text/plain")))
                        .write("part one,")
                        .write("part two")
                        .end(List.of(Map.entry("x-checksum", "abc123")));
            } else {
                res.respond(200, List.of(), big);
            }
        });
        try (RawH2Client c = RawH2Client.connect(new InetSocketAddress("127.0.0.1", port("web")))) {
            c.headers(1, RawH2Client.request("GET", "/trailers", "h.test").add("te", "trailers"), true)
                    .flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status()).isEqualTo(200);
            assertThat(o.bodyText()).isEqualTo("part one,part two");
            assertThat(o.trailers()).isNotNull();
            assertThat(o.trailers().get("x-checksum")).hasToString("abc123");

            c.headers(3, RawH2Client.request("GET", "/big", "h.test"), true).flush();
            RawH2Client.Outcome b = c.await(3);
            assertThat(b.status()).isEqualTo(200);
            assertThat(b.body()).isEqualTo(big);
        } finally {
            upstream.handler(DESCRIBE);
        }
    }

    @Test
    void streamsReuseKeptAliveUpstreamConnections() throws Exception {
        int before = upstream.connectionsAccepted();
        try (RawH2Client c = RawH2Client.connect(new InetSocketAddress("127.0.0.1", port("web")))) {
            for (int i = 0; i < 20; i++) {
                int stream = 1 + 2 * i;
                c.headers(stream, RawH2Client.request("GET", "/reuse/" + i, "h.test"), true)
                        .flush();
                assertThat(c.await(stream).status()).isEqualTo(200);
            }
            // A request with a body too.
            c.headers(41, RawH2Client.request("POST", "/reuse/post", "h.test"), false)
                    .data(41, "abc".getBytes(StandardCharsets.UTF_8), true)
                    .flush();
            assertThat(c.await(41).bodyText()).isEqualTo("POST /reuse/post host=h.test body=3\n");
        }
        assertThat(upstream.connectionsAccepted() - before)
                .as("upstream connections opened for 21 sequential streams (an idle one may be left by other tests)")
                .isLessThanOrEqualTo(1);
    }

    @Test
    void cookieCrumbsAreJoinedAndAuthorityBecomesHost() throws Exception {
        try (RawH2Client c = RawH2Client.connect(new InetSocketAddress("127.0.0.1", port("web")))) {
            c.headers(
                            1,
                            RawH2Client.request("GET", "/cookies", "cookie.test")
                                    .add("cookie", "a=1")
                                    .add("cookie", "b=2")
                                    .add("cookie", "c=3"),
                            true)
                    .flush();
            assertThat(c.await(1).status()).isEqualTo(200);
        }
        var seen = upstream.requests().getLast();
        assertThat(seen.headers("cookie")).containsExactly("a=1; b=2; c=3");
        assertThat(seen.header("host")).isEqualTo("cookie.test");
    }

    @Test
    void certificatesAreReloadedWithoutRestartAndABrokenFileKeepsTheOldOne() throws Exception {
        String before = servedSerial();
        TestCertificates.Issued fresh = certs.issue("a.test", "*.a.test");
        Path broken = served.resolve("a.pem.broken");
        Files.writeString(broken, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        Files.move(broken, served.resolve("a.pem"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(gateway.reloadCertificates()).isZero();
        assertThat(servedSerial())
                .as("a broken file keeps the previous certificate")
                .isEqualTo(before);

        Files.copy(fresh.cert(), served.resolve("a.pem"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(fresh.key(), served.resolve("a.key"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(gateway.reloadCertificates()).isEqualTo(1);
        assertThat(servedSerial()).isNotEqualTo(before);
    }

    /** The SHA-256 fingerprint of the certificate served for a.test, read by the real openssl client. */
    private static String servedSerial() throws Exception {
        Process p = new ProcessBuilder(
                        "bash",
                        "-c",
                        "openssl s_client -connect 127.0.0.1:" + port("secure")
                                + " -servername a.test </dev/null 2>/dev/null | openssl x509 -noout -fingerprint"
                                + " -sha256")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as("openssl's view of the served certificate").contains("Fingerprint=");
        return out;
    }
}
