package dev.torii.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Forwarding;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class CidrTest {
    private static InetAddress ip(String s) {
        return InetAddress.ofLiteral(s);
    }

    @Test
    void blocksMatchByPrefixIncludingPartialBytes() {
        Cidr c = Cidr.parse("10.1.96.0/19");
        assertThat(c.contains(ip("10.1.96.1"))).isTrue();
        assertThat(c.contains(ip("10.1.127.255"))).isTrue();
        assertThat(c.contains(ip("10.1.128.0"))).isFalse();
        assertThat(Cidr.parse("127.0.0.1").contains(ip("127.0.0.2"))).isFalse();
        assertThat(Cidr.parse("::1/128").contains(ip("::1"))).isTrue();
        assertThat(Cidr.parse("::1/128").contains(ip("127.0.0.1")))
                .as("v4 never in a v6 block")
                .isFalse();
        assertThat(Cidr.anyContains(Cidr.parseAll(List.of("192.168.0.0/16", "10.0.0.0/8")), ip("10.2.3.4")))
                .isTrue();
    }

    @Test
    void malformedBlocksAreRejectedNamingThem() {
        assertThatThrownBy(() -> Cidr.parse("10.0.0.0/33"))
                .hasMessage("trustedProxies: '10.0.0.0/33' (expected: a CIDR block like 10.0.0.0/8)");
        assertThatThrownBy(() -> new Forwarding(true, "torii", true, List.of("proxy.internal")))
                .hasMessage("trustedProxies: 'proxy.internal' (expected: a CIDR block like 10.0.0.0/8)");
        assertThat(new Forwarding(true, "torii", true, List.of("10.0.0.0/8")).isTrusted(ip("10.9.9.9")))
                .isTrue();
    }
}
