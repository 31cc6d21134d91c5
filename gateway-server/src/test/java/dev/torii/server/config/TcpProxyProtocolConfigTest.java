package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.proxyprotocol.ProxyProtocolVersion;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A TCP listener's {@code proxyProtocol:} mapping in torii.yaml. */
class TcpProxyProtocolConfigTest {
    private static final String UPSTREAMS = """
            upstreams:
              redis: { endpoints: [ "127.0.0.1:6379" ] }
            """;

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }

    @Test
    void acceptFromTrustedCidrsAndSendAreRead() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - name: cache
                    protocol: tcp
                    address: "127.0.0.1:6380"
                    upstream: redis
                    proxyProtocol: { accept: true, trustedCidrs: [ 10.0.0.0/8, "::1" ], headerTimeout: 2s, send: v2 }
                """ + UPSTREAMS);
        var o = c.tcpListeners().getFirst().listener().options();
        assertThat(o.proxyProtocol().trustedCidrs()).containsExactly("10.0.0.0/8", "::1");
        assertThat(o.proxyProtocol().headerTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(o.sendProxyProtocol()).isEqualTo(ProxyProtocolVersion.V2);

        var sendOnly = ConfigLoader.parse("torii.yaml", """
                        listeners:
                          - { name: cache, protocol: tcp, address: "127.0.0.1:6380", upstream: redis,
                              proxyProtocol: { send: v1 } }
                        """ + UPSTREAMS)
                .tcpListeners()
                .getFirst()
                .listener()
                .options();
        assertThat(sendOnly.proxyProtocol()).isNull();
        assertThat(sendOnly.sendProxyProtocol()).isEqualTo(ProxyProtocolVersion.V1);
    }

    @Test
    void maxConnectionsIsReadForTcpAndHttpListenersAndRefusedForDns() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, address: "127.0.0.1:8080", maxConnections: 5000 }
                  - { name: cache, protocol: tcp, address: "127.0.0.1:6380", upstream: redis, maxConnections: 100 }
                """ + UPSTREAMS);
        assertThat(c.listeners().getFirst().options().maxConnections()).isEqualTo(5000);
        assertThat(c.tcpListeners().getFirst().listener().options().maxConnections())
                .isEqualTo(100);
        assertThat(errors("""
                        listeners:
                          - { name: web, address: "127.0.0.1:8080", maxConnections: -1 }
                        """ + UPSTREAMS)).singleElement().asString().contains("listeners[0].maxConnections");
    }

    @Test
    void anHttpListenerAcceptsTheProxyProtocolFromTrustedPeers() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, address: "127.0.0.1:8080", proxyProtocol: { accept: true, trustedCidrs: [ 10.0.0.0/8 ] } }
                """ + UPSTREAMS);
        assertThat(c.listeners().getFirst().options().proxyProtocol().trustedCidrs())
                .containsExactly("10.0.0.0/8");
    }

    @Test
    void mistakesAreReportedWithTheirLines() {
        assertThat(errors("""
                        listeners:
                          - { name: a, protocol: tcp, address: "127.0.0.1:1", upstream: redis, proxyProtocol: { accept: true } }
                          - { name: b, protocol: tcp, address: "127.0.0.1:2", upstream: redis,
                              proxyProtocol: { accept: true, trustedCidrs: [ 10.0.0.0/33 ], send: v3 } }
                          - { name: c, address: "127.0.0.1:3", proxyProtocol: { accept: true, trustedCidrs: [ 10.0.0.0/8 ], send: v2 } }
                        """ + UPSTREAMS))
                .anySatisfy(
                        e -> assertThat(e).contains("listeners[0].proxyProtocol: accept: true without trustedCidrs"))
                .anySatisfy(e -> assertThat(e)
                        .contains("listeners[1].proxyProtocol.trustedCidrs[0]: ")
                        .contains("'10.0.0.0/33'"))
                .anySatisfy(e -> assertThat(e).contains("listeners[1].proxyProtocol.send: 'v3' (expected: v1 or v2)"))
                .anySatisfy(e -> assertThat(e)
                        .contains("listeners[2].proxyProtocol.send: only a TCP listener sends PROXY headers"))
                .hasSize(4);
    }
}
