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

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
