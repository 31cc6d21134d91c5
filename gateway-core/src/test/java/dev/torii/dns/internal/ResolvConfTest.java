package dev.torii.dns.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResolvConfTest {
    @Test
    void readsAKubernetesPodsResolvConf() {
        ResolvConf conf = ResolvConf.parse("""
                # written by kubelet
                search prod.svc.cluster.local svc.cluster.local cluster.local Corp.Example
                nameserver 10.96.0.10
                nameserver fd00::10
                nameserver not-an-address
                options ndots:5 timeout:2 attempts:3 rotate
                """);
        assertThat(conf.nameservers())
                .containsExactly(
                        new InetSocketAddress(InetAddress.ofLiteral("10.96.0.10"), 53),
                        new InetSocketAddress(InetAddress.ofLiteral("fd00::10"), 53));
        assertThat(conf.search())
                .containsExactly("prod.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example");
        assertThat(conf.ndots()).isEqualTo(5);
        assertThat(conf.timeoutSeconds()).isEqualTo(2);
        assertThat(conf.attempts()).isEqualTo(3);
    }

    @Test
    void domainIsTheSearchListWhenThereIsNoSearchLineAndOptionsAreCappedAsInGlibc() {
        ResolvConf conf = ResolvConf.parse("domain example.org\noptions ndots:40 attempts:9\n");
        assertThat(conf.search()).containsExactly("example.org");
        assertThat(conf.ndots()).isEqualTo(15);
        assertThat(conf.attempts()).isEqualTo(5);
        assertThat(conf.timeoutSeconds()).isEqualTo(-1);
        assertThat(conf.nameservers()).isEmpty();
    }

    @Test
    void searchListOrderFollowsNdots() {
        SearchList list = new SearchList(List.of("ns.svc.cluster.local", "cluster.local"), 2);
        assertThat(list.candidates("api", false))
                .containsExactly("api.ns.svc.cluster.local", "api.cluster.local", "api");
        assertThat(list.candidates("a.b.c", false))
                .containsExactly("a.b.c", "a.b.c.ns.svc.cluster.local", "a.b.c.cluster.local");
        assertThat(list.candidates("api", true)).containsExactly("api");
    }
}
