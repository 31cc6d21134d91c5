package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.testing.TestCertificates;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import dev.torii.upstream.UpstreamTls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code protocol} and {@code tls} keys of an upstream. */
class UpstreamProtocolConfigTest {
    private static final String HEAD = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:8080" }
            upstreams:
            """;

    @Test
    void protocolsAndTlsSettingsAreRead(@TempDir Path dir) throws Exception {
        try (var certs = TestCertificates.create()) {
            Files.createDirectories(dir.resolve("certs"));
            Files.copy(certs.caCert(), dir.resolve("certs/ca.pem"));
            Path file = dir.resolve("torii.yaml");
            Files.writeString(file, HEAD + """
                      plain: { endpoints: [ "127.0.0.1:9001" ] }
                      h2c:   { endpoints: [ "127.0.0.1:9002" ], protocol: h2c }
                      tls1:  { endpoints: [ "api.internal:443" ], protocol: https }
                      grpc:
                        endpoints: [ "10.0.0.7:8443" ]
                        protocol: h2
                        tls: { ca: certs/ca.pem, serverName: grpc.internal }
                      legacy: { endpoints: [ "10.0.0.8:443" ], protocol: https, tls: { verify: false } }
                    """);

            ServerConfig c = ConfigLoader.load(file);

            var upstreams = c.routingTable().upstreams();
            assertThat(upstreams.get("plain").protocol()).isEqualTo(UpstreamProtocol.HTTP_1_1);
            assertThat(upstreams.get("h2c").protocol()).isEqualTo(UpstreamProtocol.H2C);
            Upstream tls1 = upstreams.get("tls1");
            assertThat(tls1.protocol()).isEqualTo(UpstreamProtocol.HTTPS);
            assertThat(tls1.tls()).isEqualTo(UpstreamTls.DEFAULT);
            Upstream grpc = upstreams.get("grpc");
            assertThat(grpc.protocol()).isEqualTo(UpstreamProtocol.H2);
            assertThat(grpc.tls().caFile()).as("relative to the file").isEqualTo(dir.resolve("certs/ca.pem"));
            assertThat(grpc.tls().serverName()).isEqualTo("grpc.internal");
            assertThat(grpc.tls().verify()).isTrue();
            assertThat(upstreams.get("legacy").tls().verify()).isFalse();
        }
    }

    @Test
    void badProtocolAndTlsSettingsAreReportedWhereTheyAre(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("not-a-cert.pem"), "hello\n");
        Path file = dir.resolve("torii.yaml");
        Files.writeString(file, HEAD + """
                  a: { endpoints: [ "127.0.0.1:9001" ], protocol: h3 }
                  b: { endpoints: [ "127.0.0.1:9002" ], protocol: h2c, tls: { serverName: x.internal } }
                  c: { endpoints: [ "127.0.0.1:9003" ], protocol: h2, tls: { ca: missing.pem } }
                  d: { endpoints: [ "127.0.0.1:9004" ], protocol: h2, tls: { ca: not-a-cert.pem } }
                  e: { endpoints: [ "127.0.0.1:9005" ], protocol: h2, tls: { verify: maybe, sni: x } }
                """);

        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(file));

        List<String> errors = e.errors().stream().map(ConfigError::toString).toList();
        String f = file.toString();
        assertThat(errors).hasSize(6);
        assertThat(errors.get(0))
                .isEqualTo(f + ":4:51: upstreams.a.protocol: 'h3' (expected one of: http1, h2c, https, h2)");
        assertThat(errors.get(1))
                .startsWith(f + ":5:61: upstreams.b.tls: set with protocol h2c (expected: protocol https or h2");
        assertThat(errors.get(2))
                .startsWith(f + ":6:66: upstreams.c.tls.ca: missing.pem (expected: a readable PEM file")
                .contains(dir.resolve("missing.pem").toString());
        assertThat(errors.get(3))
                .startsWith(f + ":7:66: upstreams.d.tls.ca: not-a-cert.pem (expected: PEM certificates;");
        assertThat(errors.get(4)).startsWith(f + ":8:70: upstreams.e.tls.verify: 'maybe' (expected: true or false)");
        assertThat(errors.get(5))
                .isEqualTo(f + ":8:77: upstreams.e.tls: unknown key 'sni' (expected one of: ca, serverName, verify)");
    }
}
