package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code torii check} promises every problem of a file in one run: a bad setting of a listener must not hide its other
 * bad settings, nor the clashes of its address with other listeners and with the admin and demo addresses.
 */
class EveryProblemConfigTest {

    @Test
    void anUnknownProtocolDoesNotHideABadAddress() {
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: htp, address: "127.0.0.1:99999" }
                        """))
                .containsExactly(
                        "torii.yaml:2:28: listeners[0].protocol: 'htp' (expected one of: http, https, tcp, dns)",
                        "torii.yaml:2:42: listeners[0].address: '127.0.0.1:99999' (expected: host:port, port 0-65535)");
    }

    @Test
    void aDuplicateListenerNameDoesNotHideAPortOutOfRange() {
        assertThat(errors("""
                        listeners:
                          - { name: web, address: "127.0.0.1:8080" }
                          - { name: web, address: "127.0.0.1:70000" }
                        """))
                .containsExactly(
                        "torii.yaml:3:13: listeners[1].name: 'web' (expected: unique; listeners[0] has it already)",
                        "torii.yaml:3:27: listeners[1].address: '127.0.0.1:70000' (expected: host:port, port 0-65535)");
    }

    @Test
    void aListenerWithOtherProblemsStillClaimsItsAddressAgainstOtherListeners() {
        assertThat(errors("""
                        listeners:
                          - { name: a, protocol: htp, address: "127.0.0.1:8080" }
                          - { name: b, address: "127.0.0.1:8080" }
                          - { name: c, protocol: tcp, address: "127.0.0.1:8080", upstream: db }
                        upstreams:
                          db: { endpoints: [ "127.0.0.1:6379" ] }
                        """))
                .containsExactly(
                        "torii.yaml:2:26: listeners[0].protocol: 'htp' (expected one of: http, https, tcp, dns)",
                        "torii.yaml:3:25: listeners[1].address: '127.0.0.1:8080' (expected: unique; listeners[0]"
                                + " listens there already)",
                        "torii.yaml:4:40: listeners[2].address: '127.0.0.1:8080' (expected: unique; listeners[0]"
                                + " listens there already)");
    }

    @Test
    void anAdminAddressClashingWithAnHttpsListenerIsReportedBesideTheListenersCertificateErrors() {
        assertThat(errors("""
                        listeners:
                          - name: secure
                            protocol: https
                            address: "127.0.0.1:8443"
                            tls:
                              certificates:
                                - { cert: missing.pem, key: missing.key }
                        admin:
                          address: "127.0.0.1:8443"
                        """))
                .containsExactly(
                        "torii.yaml:7:19: listeners[0].tls.certificates[0].cert: 'missing.pem' (expected: a PEM"
                                + " certificate chain; missing.pem is not a readable file)",
                        "torii.yaml:7:37: listeners[0].tls.certificates[0].key: 'missing.key' (expected: a PEM"
                                + " private key; missing.key is not a readable file)",
                        "torii.yaml:9:12: admin.address: '127.0.0.1:8443' (expected: an address no listener uses;"
                                + " listener 'secure' is there)");
    }

    @Test
    void theAdminAndDemoAddressesAreCheckedAgainstTcpListenersToo() {
        assertThat(errors("""
                        listeners:
                          - { name: redis, protocol: tcp, address: "127.0.0.1:7000", upstream: db }
                        upstreams:
                          db: { endpoints: [ "127.0.0.1:6379" ] }
                        admin: { address: "127.0.0.1:7000" }
                        demo: { echo: "127.0.0.1:7000" }
                        """))
                .containsExactly(
                        "torii.yaml:5:19: admin.address: '127.0.0.1:7000' (expected: an address no listener uses;"
                                + " listener 'redis' is there)",
                        "torii.yaml:6:15: demo.echo: '127.0.0.1:7000' (expected: an address no listener uses;"
                                + " listener 'redis' is there)");
    }

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }
}
