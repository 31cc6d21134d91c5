package dev.torii.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;

class TestCertificatesTest {
    @Test
    void issuesAChainSignedByItsCaThatBothTlsProvidersLoad() throws Exception {
        try (TestCertificates certs = TestCertificates.create()) {
            TestCertificates.Issued leaf = certs.issue("a.test", "127.0.0.1");
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            List<X509Certificate> chain =
                    cf.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(leaf.cert()))).stream()
                            .map(X509Certificate.class::cast)
                            .toList();
            X509Certificate ca = (X509Certificate)
                    cf.generateCertificate(new ByteArrayInputStream(Files.readAllBytes(certs.caCert())));
            assertThat(chain).hasSize(2);
            chain.get(0).verify(ca.getPublicKey());
            assertThat(chain.get(0).getSubjectAlternativeNames())
                    .extracting(l -> (Object) l.get(1))
                    .containsExactly((Object) "a.test", "127.0.0.1");

            // tcnative (BoringSSL) must load on this platform, and the JDK provider must read the same files.
            assertThat(OpenSsl.isAvailable())
                    .as("netty-tcnative-boringssl-static: %s", OpenSsl.unavailabilityCause())
                    .isTrue();
            for (SslProvider provider : List.of(SslProvider.OPENSSL, SslProvider.JDK)) {
                SslContextBuilder.forServer(leaf.cert().toFile(), leaf.key().toFile())
                        .sslProvider(provider)
                        .build();
            }
        }
    }
}
