package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.proxyprotocol.ProxyProtocolVersion;
import org.junit.jupiter.api.Test;

/** An upstream's {@code proxyProtocol} key in torii.yaml. */
class UpstreamProxyProtocolConfigTest {
    private static final String HEAD = """
            listeners:
              - { name: web, address: "127.0.0.1:8080" }
            routes:
              - { match: { pathPrefix: / }, upstream: app }
            upstreams:
              plain: { endpoints: [ "127.0.0.1:9000" ] }
              app:
                endpoints: [ "127.0.0.1:9001" ]
            """;

    @Test
    void v1AndV2AreReadAndNoKeyMeansNoHeader() throws Exception {
        ServerConfig v1 = ConfigLoader.parse("torii.yaml", HEAD + "    proxyProtocol: v1\n");
        assertThat(v1.routingTable().upstream("app").proxyProtocol()).isEqualTo(ProxyProtocolVersion.V1);
        assertThat(v1.routingTable().upstream("plain").proxyProtocol()).isNull();
        ServerConfig v2 = ConfigLoader.parse("torii.yaml", HEAD + "    proxyProtocol: v2\n");
        assertThat(v2.routingTable().upstream("app").proxyProtocol()).isEqualTo(ProxyProtocolVersion.V2);
    }

    @Test
    void anotherVersionIsReportedAtItsPosition() {
        ConfigException e = catchThrowableOfType(
                ConfigException.class, () -> ConfigLoader.parse("torii.yaml", HEAD + "    proxyProtocol: v3\n"));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        assertThat(e.errors().stream().map(ConfigError::toString).toList())
                .containsExactly("torii.yaml:9:20: upstreams.app.proxyProtocol: 'v3' (expected: v1 or v2)");
    }
}
