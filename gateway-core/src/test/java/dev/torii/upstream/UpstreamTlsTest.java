package dev.torii.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class UpstreamTlsTest {
    @Test
    void protocolsHaveConfigNamesAndTraits() {
        assertThat(UpstreamProtocol.ofConfigName("H2C")).isEqualTo(UpstreamProtocol.H2C);
        assertThat(UpstreamProtocol.H2.tls()).isTrue();
        assertThat(UpstreamProtocol.H2.http2()).isTrue();
        assertThat(UpstreamProtocol.HTTPS.http2()).isFalse();
        assertThat(UpstreamProtocol.HTTP_1_1.configName()).isEqualTo("http1");
        assertThatThrownBy(() -> UpstreamProtocol.ofConfigName("http2"))
                .hasMessage("protocol: 'http2' (expected one of: http1, h2c, https, h2)");
    }

    @Test
    void anUpstreamDefaultsToHttp1WithVerifiedTls() {
        Upstream u = Upstream.builder("app").endpoint("127.0.0.1:80").build();
        assertThat(u.protocol()).isEqualTo(UpstreamProtocol.HTTP_1_1);
        assertThat(u.tls()).isEqualTo(UpstreamTls.DEFAULT);
        assertThat(u.tls().verify()).isTrue();
        assertThat(u.tls().caFile()).isNull();
    }

    @Test
    void tlsSettingsNeedATlsProtocol() {
        assertThatThrownBy(() -> Upstream.builder("app")
                        .endpoint("127.0.0.1:80")
                        .protocol(UpstreamProtocol.H2C)
                        .tls(UpstreamTls.builder().serverName("a.internal").build())
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("upstream 'app' tls: set with protocol h2c (expected: protocol https or h2 to use TLS"
                        + " settings)");
    }

    @Test
    void aCaFileAndNoVerificationContradictEachOther() {
        assertThatThrownBy(() -> UpstreamTls.builder()
                        .caFile(Path.of("ca.pem"))
                        .insecureSkipVerify()
                        .build())
                .hasMessageContaining("tls caFile: ca.pem with verify: false (expected: one or the other");
    }

    @Test
    void aServerNameMustLookLikeAHostName() {
        assertThatThrownBy(() -> UpstreamTls.builder().serverName("a b").build())
                .hasMessage("tls serverName: 'a b' (expected: a host name such as api.internal)");
        assertThat(UpstreamTls.builder().serverName(" api.internal ").build().serverName())
                .isEqualTo("api.internal");
    }
}
