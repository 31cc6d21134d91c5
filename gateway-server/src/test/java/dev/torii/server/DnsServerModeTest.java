package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.Dig;
import dev.torii.testing.UnboundServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DNS server mode as a user runs it: a torii.yaml with a dns listener, a dns section forwarding to a real unbound,
 * and the admin API; dig queries it and curl reads {@code /metrics}, {@code /healthz} and {@code /readyz}.
 */
class DnsServerModeTest {
    @Test
    void digIsAnsweredByTheDnsListenerAndCurlSeesItInTheMetrics(@TempDir Path dir) throws Exception {
        try (UnboundServer unbound = UnboundServer.start(List.of(
                "local-zone: \".\" static",
                "local-zone: \"mode.test.\" static",
                "local-data: \"mode.test. 3600 IN SOA ns.mode.test. admin.mode.test. 1 3600 600 86400 5\"",
                "local-data: \"app.mode.test. 60 IN A 10.7.0.1\""))) {
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, """
                    listeners:
                      - name: node-dns
                        protocol: dns
                        address: "127.0.0.1:0"
                        rateLimit: { rate: 1000, per: 1s }
                    dns: { upstreams: [ "127.0.0.1:%d" ] }
                    admin: { address: "127.0.0.1:0" }
                    ioThreads: 1
                    """.formatted(unbound.address().getPort()));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
                InetSocketAddress dns = server.dnsServers().getFirst().address();
                int admin = server.admin().orElseThrow().address().getPort();

                assertThat(Dig.query(dns, "app.mode.test").section("ANSWER"))
                        .containsExactly("app.mode.test. 60 IN A 10.7.0.1");
                assertThat(Dig.query(dns, "+tcp", "app.mode.test").section("ANSWER"))
                        .hasSize(1);
                assertThat(Dig.query(dns, "gone.mode.test").status()).isEqualTo("NXDOMAIN");

                assertThat(curl("http://127.0.0.1:" + admin + "/healthz")).isEqualTo("ok\n");
                assertThat(curl("http://127.0.0.1:" + admin + "/readyz")).isEqualTo("ready\n");
                String metrics = curl("http://127.0.0.1:" + admin + "/metrics");
                assertThat(metrics)
                        .contains("torii_dns_server_queries_total{listener=\"node-dns\",transport=\"udp\"} 2.0")
                        .contains("torii_dns_server_queries_total{listener=\"node-dns\",transport=\"tcp\"} 1.0")
                        .contains("torii_dns_server_responses_total{listener=\"node-dns\",rcode=\"NOERROR\"} 2.0")
                        .contains("torii_dns_server_responses_total{listener=\"node-dns\",rcode=\"NXDOMAIN\"} 1.0")
                        .contains("torii_dns_server_rate_limited_total{listener=\"node-dns\"} 0.0")
                        .contains("torii_dns_cache_lookups_total{result=\"hit\"} 1.0")
                        .contains("torii_dns_cache_lookups_total{result=\"miss\"} 2.0")
                        .contains("torii_dns_cache_upstream_latency_seconds_bucket{le=\"+Inf\"} 2")
                        .doesNotContain("torii_gateway_"); // no http listener, no gateway
                String headers = curl("-i", "-X", "DELETE", "http://127.0.0.1:" + admin + "/metrics");
                assertThat(headers).startsWith("HTTP/1.1 405").containsIgnoringCase("allow: GET");
                assertThat(curl("-i", "http://127.0.0.1:" + admin + "/nope")).startsWith("HTTP/1.1 404");
                assertThat(server.ready()).isTrue();
            }
        }
    }

    @Test
    void theMetricsCarryTheGatewaysCountersWhenAnHttpListenerRuns(@TempDir Path dir) throws Exception {
        int echoPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            echoPort = s.getLocalPort();
        }
        Path file = dir.resolve("torii.yaml");
        Files.writeString(file, """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - match: { pathPrefix: / }
                    upstream: demo
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                admin: { address: "127.0.0.1:0" }
                """.formatted(echoPort, echoPort));
        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            int web = server.gateway().address("web").getPort();
            int admin = server.admin().orElseThrow().address().getPort();
            assertThat(curl("-i", "http://127.0.0.1:" + web + "/hello")).startsWith("HTTP/1.1 200");
            assertThat(curl("http://127.0.0.1:" + admin + "/metrics"))
                    .contains("torii_gateway_exchanges_total 1.0")
                    .contains("torii_gateway_upstream_connections_opened_total 1.0")
                    .doesNotContain("torii_dns_"); // no dns section, no dns listener
            assertThat(curl("-I", "http://127.0.0.1:" + admin + "/healthz")).startsWith("HTTP/1.1 200");
        }
    }

    private static String curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("/usr/bin/curl", "-sS", "--max-time", "10"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("curl exit code; output:\n" + output).isZero();
        return output;
    }
}
