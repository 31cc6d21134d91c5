package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.Dig;
import dev.torii.testing.UnboundServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DNS listeners change with a reload: one added answers dig from the shared cache, one whose settings changed answers
 * with them at the same address, a new address in use refuses the whole reload, and one removed stops answering.
 */
class DnsListenerReloadTest {
    private static final String CONFIG = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:0" }
            %s
            upstreams:
              demo: { endpoints: [ "127.0.0.1:9" ] }
            dns: { upstreams: [ "127.0.0.1:%d" ] }
            ioThreads: 1
            """;

    @Test
    void aReloadAddsChangesAndRemovesADnsListenerThatDigQueries(@TempDir Path dir) throws Exception {
        try (UnboundServer unbound = UnboundServer.start(List.of(
                "local-zone: \".\" static",
                "local-zone: \"reload.test.\" static",
                "local-data: \"reload.test. 3600 IN SOA ns.reload.test. admin.reload.test. 1 3600 600 86400 5\"",
                "local-data: \"app.reload.test. 60 IN A 10.8.0.1\""))) {
            int port = freePort();
            InetSocketAddress address = new InetSocketAddress("127.0.0.1", port);
            String dnsListener = "  - { name: node-dns, protocol: dns, address: \"127.0.0.1:" + port + "\"%s }";
            int upstream = unbound.address().getPort();
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, CONFIG.formatted("", upstream));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                assertThat(server.dnsServers()).isEmpty();

                Files.writeString(file, CONFIG.formatted(dnsListener.formatted(""), upstream));
                ConfigReloadResult added = server.reload();
                assertThat(added.applied()).as("%s", added.errors()).isTrue();
                assertThat(added.notApplied()).isEmpty();
                assertThat(Dig.query(address, "app.reload.test").section("ANSWER"))
                        .containsExactly("app.reload.test. 60 IN A 10.8.0.1");

                // Changed settings at the same address: the server restarts with them (a rate of 1 query a minute).
                Files.writeString(
                        file,
                        CONFIG.formatted(
                                dnsListener.formatted(", rateLimit: { rate: 1, per: 1m, burst: 1 }"), upstream));
                ConfigReloadResult changed = server.reload();
                assertThat(changed.applied()).as("%s", changed.errors()).isTrue();
                assertThat(changed.notApplied()).isEmpty();
                assertThat(Dig.query(address, "app.reload.test").section("ANSWER"))
                        .hasSize(1);
                assertThat(Dig.query(address, "app.reload.test").section("ANSWER"))
                        .as("over the new rate limit")
                        .isEmpty();
                assertThat(server.dnsServers().getFirst().stats().rateLimited()).isEqualTo(1);

                // A second dns listener on an address in use: refused, the running one unchanged.
                try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                    String more = dnsListener.formatted(", rateLimit: { rate: 1, per: 1m, burst: 1 }")
                            + "\n  - { name: more-dns, protocol: dns, address: \"127.0.0.1:" + taken.getLocalPort()
                            + "\" }";
                    Files.writeString(file, CONFIG.formatted(more, upstream));
                    ConfigReloadResult refused = server.reload();
                    assertThat(refused.applied()).isFalse();
                    assertThat(server.dnsServers()).hasSize(1);
                }

                Files.writeString(file, CONFIG.formatted("", upstream));
                ConfigReloadResult removed = server.reload();
                assertThat(removed.applied()).as("%s", removed.errors()).isTrue();
                assertThat(server.dnsServers()).isEmpty();
                assertThat(Dig.query(address, "+tcp", "app.reload.test").status())
                        .as("nothing listens any more")
                        .isNotEqualTo("NOERROR");
            }
        }
    }

    @Test
    void aNodeLocalCacheWithOnlyDnsListenersReloadsItsListenersAndSettingsButRefusesAddingAProxyListener(
            @TempDir Path dir) throws Exception {
        try (UnboundServer unbound = UnboundServer.start(List.of(
                        "local-zone: \".\" static",
                        "local-zone: \"node.test.\" static",
                        "local-data: \"node.test. 3600 IN SOA ns.node.test. admin.node.test. 1 3600 600 86400 5\"",
                        "local-data: \"app.node.test. 60 IN A 10.9.0.1\""));
                UnboundServer other = UnboundServer.start(List.of(
                        "local-zone: \".\" static",
                        "local-zone: \"node.test.\" static",
                        "local-data: \"node.test. 3600 IN SOA ns.node.test. admin.node.test. 1 3600 600 86400 5\"",
                        "local-data: \"new.node.test. 60 IN A 10.9.0.2\""))) {
            int first = freePort();
            int second = freePort();
            String only = """
                    listeners:
                      - { name: node-dns, protocol: dns, address: "127.0.0.1:%d" }
                    %s
                    dns: { upstreams: [ "127.0.0.1:%d" ] }
                    ioThreads: 1
                    """;
            String secondListener = "  - { name: more-dns, protocol: dns, address: \"127.0.0.1:" + second + "\" }";
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, only.formatted(first, "", unbound.address().getPort()));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file), file)) {
                // A second listener and a new upstream in one reload: both apply without a restart.
                Files.writeString(
                        file,
                        only.formatted(first, secondListener, other.address().getPort()));
                ConfigReloadResult applied = server.reload();
                assertThat(applied.applied()).as("%s", applied.errors()).isTrue();
                assertThat(applied.notApplied()).isEmpty();
                assertThat(server.dnsServers()).hasSize(2);
                assertThat(Dig.query(new InetSocketAddress("127.0.0.1", second), "new.node.test")
                                .section("ANSWER"))
                        .as("the added listener answers from the new upstream")
                        .containsExactly("new.node.test. 60 IN A 10.9.0.2");

                // An http listener cannot start without the proxy engine: refused, the dns listeners unchanged.
                String withWeb = only.formatted(
                                first,
                                secondListener + "\n  - { name: web, protocol: http, address: \"127.0.0.1:0\" }",
                                other.address().getPort())
                        + "upstreams:\n  demo: { endpoints: [ \"127.0.0.1:9\" ] }\n";
                Files.writeString(file, withWeb);
                ConfigReloadResult refused = server.reload();
                assertThat(refused.applied()).isFalse();
                assertThat(String.join("\n", refused.errors())).contains("ran only dns listeners");
                assertThat(server.dnsServers()).hasSize(2);
                assertThat(Dig.query(new InetSocketAddress("127.0.0.1", first), "new.node.test")
                                .section("ANSWER"))
                        .containsExactly("new.node.test. 60 IN A 10.9.0.2");
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
