package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.tcp.SniRouting;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A TCP listener's {@code sni:} mapping (SNI passthrough routing) in torii.yaml. */
class TcpSniConfigTest {
    private static final String UPSTREAMS = """
            upstreams:
              a: { endpoints: [ "127.0.0.1:8443" ] }
              b: { endpoints: [ "127.0.0.1:9443" ] }
              c: { endpoints: [ "127.0.0.1:10443" ] }
            """;

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }

    @Test
    void routesAndADefaultAreRead() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - name: tls
                    protocol: tcp
                    address: "127.0.0.1:443"
                    sni:
                      routes: { "a.example": a, "*.b.example": b }
                      default: c
                      clientHelloTimeout: 3s
                      maxClientHelloBytes: 16k
                """ + UPSTREAMS);
        var l = c.tcpListeners().getFirst().listener();
        assertThat(l.upstream()).isEqualTo("c");
        SniRouting sni = l.options().sni();
        assertThat(sni.routes().keySet()).as("in file order").containsExactly("a.example", "*.b.example");
        assertThat(sni.routes()).isEqualTo(Map.of("a.example", "a", "*.b.example", "b"));
        assertThat(sni.refuseUnknown()).isFalse();
        assertThat(sni.clientHelloTimeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(sni.maxClientHelloBytes()).isEqualTo(16 * 1024);
        assertThat(sni.upstreamFor("x.b.example", l.upstream())).isEqualTo("b");
        assertThat(c.gatewayBuilder().build()).isNotNull();
    }

    @Test
    void withoutDefaultOrUpstreamUnknownNamesAreRefusedAndTheListenersUpstreamIsTheDefaultOtherwise() throws Exception {
        ServerConfig refusing = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: tls, protocol: tcp, address: "127.0.0.1:443", sni: { routes: { "a.example": a } } }
                """ + UPSTREAMS);
        assertThat(refusing.tcpListeners().getFirst().listener().options().sni().refuseUnknown())
                .isTrue();
        ServerConfig withUpstream = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: tls, protocol: tcp, address: "127.0.0.1:443", upstream: c,
                      sni: { routes: { "a.example": a } } }
                """ + UPSTREAMS);
        var l = withUpstream.tcpListeners().getFirst().listener();
        assertThat(l.options().sni().upstreamFor("z.example", l.upstream())).isEqualTo("c");
    }

    @Test
    void badRoutesUnknownUpstreamsAndSniOnHttpListenersAreErrorsWithTheirLines() {
        assertThat(errors("""
                        listeners:
                          - name: tls
                            protocol: tcp
                            address: "127.0.0.1:443"
                            upstream: c
                            sni:
                              routes: { "A.example": a, "*.b.example": nowhere }
                              default: b
                          - { name: web, address: "127.0.0.1:80", sni: { routes: { "a.example": a } } }
                        """ + UPSTREAMS))
                .containsExactlyInAnyOrder(
                        "torii.yaml:7:17: listeners[0].sni.routes.A.example: sni route 'A.example' (expected: a lower-case host"
                                + " name such as a.example, or a wildcard such as *.b.example)",
                        "torii.yaml:8:16: listeners[0].sni.default: the listener has 'upstream' already (expected: one"
                                + " of the two)",
                        "torii.yaml:9:48: listeners[1].sni: only a TCP listener has it (expected: protocol: tcp, or no"
                                + " sni)");
        assertThat(errors("""
                        listeners:
                          - { name: tls, protocol: tcp, address: "127.0.0.1:443", sni: { routes: { "a.example": nowhere } } }
                        """ + UPSTREAMS))
                .singleElement()
                .asString()
                .contains("listeners[0].sni.routes.a.example: 'nowhere' (expected one of: a, b, c)");
    }
}
