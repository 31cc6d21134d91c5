package dev.torii.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class EndpointTest {
    @Test
    void parsesNamesIpv4AndBracketedIpv6() {
        assertThat(Endpoint.parse("App.Internal:8080")).isEqualTo(new Endpoint("app.internal", 8080));
        assertThat(Endpoint.parse("10.0.0.1:80").isIpLiteral()).isTrue();
        Endpoint v6 = Endpoint.parse("[::1]:9000");
        assertThat(v6.host()).isEqualTo("::1");
        assertThat(v6.isIpLiteral()).isTrue();
        assertThat(v6.authority()).isEqualTo("[::1]:9000");
        assertThat(Endpoint.parse("app.internal:1").isIpLiteral()).isFalse();
    }

    @Test
    void rejectsMalformedEndpointsNamingTheValue() {
        assertThatThrownBy(() -> Endpoint.parse("app")).hasMessage("endpoint: 'app' (expected: host:port)");
        assertThatThrownBy(() -> Endpoint.parse("app:http"))
                .hasMessage("endpoint: 'app:http' (expected: host:port with a numeric port)");
        assertThatThrownBy(() -> Endpoint.parse("app:70000")).hasMessage("endpoint port: 70000 (expected: 1-65535)");
        assertThatThrownBy(() -> Endpoint.parse("::1:80")).hasMessageContaining("expected: host:port");
    }

    @Test
    void upstreamBuilderValidatesTheWholeCombination() {
        assertThatThrownBy(() -> Upstream.builder("app").build())
                .hasMessage("upstream 'app' endpoints: [] (expected: at least one)");
        assertThatThrownBy(() -> Upstream.builder("app")
                        .endpoint("a:1")
                        .connectTimeout(Duration.ZERO)
                        .build())
                .hasMessage("upstream 'app' connectTimeout: PT0S (expected: > 0)");
        assertThatThrownBy(() -> Upstream.builder("app")
                        .endpoint("a:1")
                        .maxConnectionsPerEndpoint(0)
                        .build())
                .hasMessage("upstream 'app' maxConnectionsPerEndpoint: 0 (expected: > 0)");
        assertThat(Upstream.builder("app")
                        .endpoint("a:1")
                        .maxConnectionsPerEndpoint(8)
                        .build()
                        .maxIdlePerEndpoint())
                .isEqualTo(8);
    }

    @Test
    void loadBalancingNamesAreTheConfigNames() {
        assertThat(LoadBalancing.fromConfigName("least-in-flight")).isEqualTo(LoadBalancing.LEAST_IN_FLIGHT);
        assertThatThrownBy(() -> LoadBalancing.fromConfigName("fastest"))
                .hasMessage("loadBalancer: 'fastest' (expected one of: round-robin, least-in-flight)");
    }
}
