package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.proxyprotocol.ProxyProtocolAccept;
import dev.torii.proxyprotocol.ProxyProtocolVersion;
import dev.torii.ratelimit.Bandwidth;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ListenerOptionsTest {
    @Test
    void builderStartsFromTheDefaults() {
        assertThat(ListenerOptions.builder().build()).isEqualTo(ListenerOptions.DEFAULTS);
    }

    @Test
    void builderSetsEverySettingAndKeepsTheOthers() {
        Bandwidth rate = Bandwidth.of(30, Duration.ofMinutes(1));
        ProxyProtocolAccept accept = ProxyProtocolAccept.from("127.0.0.0/8");
        ListenerOptions o = ListenerOptions.builder()
                .newConnectionsPerClient(rate)
                .pathNormalization(PathNormalization.off())
                .maxRequestsPerConnection(5)
                .proxyProtocol(accept)
                .sendProxyProtocol(ProxyProtocolVersion.V2)
                .maxConnections(7)
                .build();
        assertThat(o)
                .isEqualTo(new ListenerOptions(
                        Optional.of(rate), PathNormalization.off(), 5, null, accept, ProxyProtocolVersion.V2, 7));
        ListenerOptions changed = o.toBuilder().maxConnections(0).build();
        assertThat(changed.maxConnections()).isZero();
        assertThat(changed.withMaxConnections(7)).isEqualTo(o);
    }

    @Test
    void withMethodsChangeOnlyTheirSetting() {
        ListenerOptions o =
                ListenerOptions.DEFAULTS.withMaxRequestsPerConnection(3).withMaxConnections(2);
        assertThat(o.maxRequestsPerConnection()).isEqualTo(3);
        assertThat(o.maxConnections()).isEqualTo(2);
        assertThat(o.withSendProxyProtocol(ProxyProtocolVersion.V1).maxRequestsPerConnection())
                .isEqualTo(3);
        assertThat(o.withPathNormalization(PathNormalization.off()).withPathNormalization(null))
                .isEqualTo(o);
    }

    @Test
    void buildRefusesAnOutOfRangeSettingNamingIt() {
        assertThatThrownBy(() -> ListenerOptions.builder().maxConnections(-1).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxConnections: -1 (expected: >= 0)");
        assertThatThrownBy(() ->
                        ListenerOptions.builder().maxRequestsPerConnection(-2).build())
                .hasMessageStartingWith("maxRequestsPerConnection: -2 (expected:");
    }
}
