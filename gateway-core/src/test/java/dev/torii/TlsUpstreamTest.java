package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.testing.NginxBackend;
import dev.torii.testing.RawClient;
import dev.torii.testing.RawClient.RawResponse;
import dev.torii.testing.TestCertificates;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import dev.torii.upstream.UpstreamTls;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS to upstreams against real nginx servers with certificates of a throw-away CA: HTTP/2 by ALPN and HTTP/1.1 over
 * TLS, verified against a configured CA and name; an untrusted chain or a wrong name fails the connect.
 */
class TlsUpstreamTest {
    private static TestCertificates certs;
    private static NginxBackend h2;
    private static NginxBackend https;

    @BeforeAll
    static void start() throws Exception {
        certs = TestCertificates.create();
        TestCertificates.Issued cert = certs.issue("upstream.test");
        h2 = NginxBackend.start(NginxBackend.Options.defaults().withHttp2().withTls(cert));
        https = NginxBackend.start(NginxBackend.Options.defaults().withTls(cert));
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {h2, https, certs}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    @Test
    void anH2UpstreamIsVerifiedAgainstTheConfiguredCaAndServerName() {
        Upstream upstream = upstream(h2, UpstreamProtocol.H2, trusting("upstream.test"));
        try (var gateway = Http2UpstreamTest.gateway(upstream);
                var client = Http2UpstreamTest.client(gateway)) {
            for (int i = 0; i < 3; i++) {
                RawResponse r = client.write("GET /echo-protocol HTTP/1.1\r\nHost: example.test\r\n\r\n")
                        .readResponse();
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.bodyText()).startsWith("proto=HTTP/2.0 scheme=https host=example.test ");
            }
            assertThat(gateway.stats().upstreamConnectionsOpened()).isEqualTo(1);
        }
    }

    @Test
    void anHttpsUpstreamSpeaksHttp1OverTls() {
        Upstream upstream = upstream(https, UpstreamProtocol.HTTPS, trusting("upstream.test"));
        try (var gateway = Http2UpstreamTest.gateway(upstream);
                var client = Http2UpstreamTest.client(gateway)) {
            for (int i = 0; i < 3; i++) {
                RawResponse r = client.write("GET /echo-protocol HTTP/1.1\r\nHost: example.test\r\n\r\n")
                        .readResponse();
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.bodyText()).startsWith("proto=HTTP/1.1 scheme=https host=example.test ");
            }
            assertThat(gateway.stats().upstreamConnectionsOpened())
                    .as("keep-alive over TLS")
                    .isEqualTo(1);
        }
    }

    @Test
    void aCertificateFromAnUntrustedCaFailsTheConnect() {
        // The default trust store (the JDK's) does not know the test CA.
        UpstreamTls jdkTrust = UpstreamTls.builder().serverName("upstream.test").build();
        assertThat(failureOf(upstream(h2, UpstreamProtocol.H2, jdkTrust))).isEqualTo(ProxyError.CONNECT_FAILED);
        assertThat(failureOf(upstream(https, UpstreamProtocol.HTTPS, jdkTrust))).isEqualTo(ProxyError.CONNECT_FAILED);
    }

    @Test
    void aCertificateForAnotherNameFailsTheConnect() {
        assertThat(failureOf(upstream(h2, UpstreamProtocol.H2, trusting("other.test"))))
                .isEqualTo(ProxyError.CONNECT_FAILED);
        // An IP endpoint without a serverName is verified against the IP, which the certificate does not name.
        assertThat(failureOf(upstream(
                        https,
                        UpstreamProtocol.HTTPS,
                        UpstreamTls.builder().caFile(certs.caCert()).build())))
                .isEqualTo(ProxyError.CONNECT_FAILED);
    }

    @Test
    void verificationCanBeTurnedOffExplicitly() {
        Upstream upstream = upstream(
                h2,
                UpstreamProtocol.H2,
                UpstreamTls.builder().insecureSkipVerify().build());
        try (var gateway = Http2UpstreamTest.gateway(upstream);
                var client = Http2UpstreamTest.client(gateway)) {
            RawResponse r = client.write("GET /echo-protocol HTTP/1.1\r\nHost: x\r\n\r\n")
                    .readResponse();
            assertThat(r.status()).isEqualTo(200);
        }
    }

    @Test
    void anUnreadableCaFileIsRejectedWhenTheGatewayIsBuilt() {
        Upstream upstream = upstream(
                h2,
                UpstreamProtocol.H2,
                UpstreamTls.builder().caFile(Path.of("/nonexistent/ca.pem")).build());
        assertThatThrownBy(() -> Http2UpstreamTest.gateway(upstream))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("upstream 'app' tls caFile: /nonexistent/ca.pem")
                .hasMessageContaining("expected: a readable PEM file");
    }

    /** Sends one request and returns the error the exchange ended with (the client sees a 502). */
    private static ProxyError failureOf(Upstream upstream) {
        List<ProxyError> errors = new CopyOnWriteArrayList<>();
        Hook recorder = new Hook() {
            @Override
            public void onLog(Exchange exchange) {
                errors.add(exchange.log().error());
            }
        };
        try (var gateway = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .ioThreads(1)
                        .hook(recorder)
                        .routingTable(dev.torii.route.RoutingTable.builder()
                                .upstream(upstream)
                                .route(dev.torii.route.Route.builder("all")
                                        .upstream(upstream.name())
                                        .build())
                                .build())
                        .limits(Limits.builder()
                                .shutdownTimeout(Duration.ofSeconds(2))
                                .build())
                        .build()
                        .start();
                var client = new RawClient(gateway.address("web"), Duration.ofSeconds(10))) {
            RawResponse r = client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n").readResponse();
            assertThat(r.status()).isEqualTo(502);
        }
        assertThat(errors).hasSize(1);
        return errors.getFirst();
    }

    private static UpstreamTls trusting(String serverName) {
        return UpstreamTls.builder()
                .caFile(certs.caCert())
                .serverName(serverName)
                .build();
    }

    private static Upstream upstream(NginxBackend nginx, UpstreamProtocol protocol, UpstreamTls tls) {
        return Upstream.builder("app")
                .endpoint(nginx.endpoint())
                .protocol(protocol)
                .tls(tls)
                .connectTimeout(Duration.ofSeconds(3))
                .build();
    }
}
