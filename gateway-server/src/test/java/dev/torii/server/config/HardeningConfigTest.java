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
                        "torii.yaml", LISTENERS + "limits:\n  pathNormalization: { escapedSlashes: redirect }\n"));
        assertThat(e).isNotNull();
        assertThat(e.errors().stream().map(ConfigError::toString))
                .containsExactly(
                        "torii.yaml:3:40: limits.pathNormalization.escapedSlashes: 'redirect' (expected: keep, reject or unescape)");
    }
}
