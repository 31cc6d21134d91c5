package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** {@code ${ENV}} references in a whole configuration read by {@link ConfigLoader}, from the real environment. */
class EnvironmentSubstitutionConfigTest {
    @Test
    void referencesWithDefaultsFillTypedSettingsAndAnUnsetOneIsReportedWhereItIs() throws ConfigException {
        ServerConfig config = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:${TORII_TEST_UNSET_PORT:-8181}" }
                routes:
                  - match: { pathPrefix: / }
                    upstream: app
                upstreams:
                  app: { endpoints: [ "${TORII_TEST_UNSET_HOST:-127.0.0.1}:9000" ] }
                limits:
                  maxConnections: ${TORII_TEST_UNSET_MAX:-77}
                """);
        assertThat(config.listeners().getFirst().port()).isEqualTo(8181);
        assertThat(config.routingTable().upstream("app").endpoints().getFirst().authority())
                .isEqualTo("127.0.0.1:9000");
        assertThat(config.limits().maxConnections()).isEqualTo(77);

        assertThatThrownBy(() -> ConfigLoader.parse("torii.yaml", """
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8181" }
                        routes:
                          - match: { pathPrefix: / }
                            upstream: app
                        upstreams:
                          app: { endpoints: [ "${TORII_TEST_UNSET_HOST}:9000" ] }
                        """))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("torii.yaml:7:24: ${TORII_TEST_UNSET_HOST}: environment variable");
    }
}
