package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.junit.jupiter.api.Test;

class MaxRequestsConfigTest {
    @Test
    void limitsAndEachListenerTakeMaxRequestsPerConnection() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, address: "127.0.0.1:0" }
                  - { name: api, address: "127.0.0.1:0", maxRequestsPerConnection: 10 }
                  - { name: bulk, address: "127.0.0.1:0", maxRequestsPerConnection: -1 }
                limits: { maxRequestsPerConnection: 1000 }
                """);
        assertThat(c.limits().maxRequestsPerConnection()).isEqualTo(1000);
        assertThat(c.listeners())
                .extracting(l -> l.options().maxRequestsPerConnection(c.limits()))
                .containsExactly(1000, 10, 0);
    }

    @Test
    void aNegativeLimitIsRefusedAtItsPosition() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", """
                        listeners: [ { name: web, address: "127.0.0.1:0", maxRequestsPerConnection: -2 } ]
                        limits: { maxRequestsPerConnection: -1 }
                        """));
        assertThat(e.errors().stream().map(ConfigError::toString))
                .anySatisfy(s -> assertThat(s).startsWith("torii.yaml:1:").contains("maxRequestsPerConnection"))
                .anySatisfy(s -> assertThat(s).startsWith("torii.yaml:2:").contains("maxRequestsPerConnection"));
    }
}
