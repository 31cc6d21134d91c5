package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.PathNormalization;
import dev.torii.PathNormalization.EscapedSlashes;
import org.junit.jupiter.api.Test;

class HardeningConfigTest {
    private static final String LISTENERS = "listeners: [ { name: web, address: \"127.0.0.1:0\" } ]\n";

    @Test
    void pathNormalizationIsOnByDefaultAndUnderscoredHeadersAreDropped() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", LISTENERS);
        assertThat(c.limits().pathNormalization()).isEqualTo(PathNormalization.defaults());
        assertThat(c.limits().underscoresInHeaders()).isFalse();
    }

    @Test
    void pathNormalizationAndUnderscoresAreReadUnderLimits() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", LISTENERS + """
                limits:
                  pathNormalization: { mergeSlashes: false, escapedSlashes: unescape }
                  underscoresInHeaders: true
                """);
        assertThat(c.limits().pathNormalization())
                .isEqualTo(new PathNormalization(true, false, EscapedSlashes.UNESCAPE));
        assertThat(c.limits().underscoresInHeaders()).isTrue();

        ServerConfig off = ConfigLoader.parse("torii.yaml", LISTENERS + "limits: { pathNormalization: false }\n");
        assertThat(off.limits().pathNormalization()).isEqualTo(PathNormalization.off());
    }

    @Test
    void anUnknownEscapedSlashesPolicyIsReportedWithItsPlace() {
        ConfigException e = catchThrowableOfType(
                ConfigException.class,
                () -> ConfigLoader.parse(
                        "torii.yaml", LISTENERS + "limits:\n  pathNormalization: { escapedSlashes: rewrite }\n"));
        assertThat(e).isNotNull();
        assertThat(e.errors().stream().map(ConfigError::toString))
                .containsExactly(
                        "torii.yaml:3:40: limits.pathNormalization.escapedSlashes: 'rewrite' (expected: keep, reject, unescape or redirect)");
    }

    @Test
    void aListenerHasItsOwnPathNormalizationOverTheGatewaysOne() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, address: "127.0.0.1:0" }
                  - name: canonical
                    address: "127.0.0.1:1"
                    pathNormalization: { escapedSlashes: redirect }
                  - { name: raw, address: "127.0.0.1:2", pathNormalization: false }
                limits:
                  pathNormalization: { escapedSlashes: reject }
                """);
        assertThat(c.limits().pathNormalization()).isEqualTo(new PathNormalization(true, true, EscapedSlashes.REJECT));
        assertThat(c.listeners().get(0).options().pathNormalization())
                .as("the gateway's")
                .isNull();
        assertThat(c.listeners().get(1).options().pathNormalization())
                .isEqualTo(new PathNormalization(true, true, EscapedSlashes.REDIRECT));
        assertThat(c.listeners().get(2).options().pathNormalization()).isEqualTo(PathNormalization.off());
    }

    @Test
    void aListenersPathNormalizationErrorsNameTheirPlace() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, address: "127.0.0.1:0", pathNormalization: { escapedSlashes: nope } }
                  - { name: t, protocol: tcp, address: "127.0.0.1:1", upstream: app, pathNormalization: false }
                upstreams: { app: { endpoints: [ "127.0.0.1:9" ] } }
                """));
        assertThat(e).isNotNull();
        assertThat(e.errors().stream().map(ConfigError::toString))
                .containsExactly(
                        "torii.yaml:2:79: listeners[0].pathNormalization.escapedSlashes: 'nope' (expected: keep, reject, unescape or redirect)",
                        "torii.yaml:3:89: listeners[1].pathNormalization: only for protocol http or https (this listener is tcp)");
    }
}
