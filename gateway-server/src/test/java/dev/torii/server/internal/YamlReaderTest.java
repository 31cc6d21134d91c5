package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class YamlReaderTest {
    @Test
    void closestFindsTyposAndCaseSlipsButNotUnrelatedWords() {
        List<String> keys = List.of("host", "pathPrefix", "methods", "headers");
        assertThat(YamlReader.closest("pathprefix", keys)).isEqualTo("pathPrefix");
        assertThat(YamlReader.closest("metods", keys)).isEqualTo("methods");
        assertThat(YamlReader.closest("hots", keys)).isNull(); // two edits away from a four-letter key
        assertThat(YamlReader.closest("hostname", keys)).isNull();
        assertThat(YamlReader.closest("upstream", keys)).isNull();
    }

    @Test
    void relabelDropsTheWordsThePathAlreadySays() {
        assertThat(YamlReader.relabel("upstreams.app.endpoints[1]", "endpoint port: 99999 (expected: 1-65535)"))
                .isEqualTo("upstreams.app.endpoints[1]: port 99999 (expected: 1-65535)");
        assertThat(YamlReader.relabel("listeners[0].address", "listener 'web' address: 'x' (expected: host:port)"))
                .isEqualTo("listeners[0].address: 'x' (expected: host:port)");
        assertThat(YamlReader.relabel("limits.maxConnections", "maxConnections: 0 (expected: > 0)"))
                .isEqualTo("limits.maxConnections: 0 (expected: > 0)");
    }

    @Test
    void relabelKeepsMessagesWithoutASimpleLabel() {
        assertThat(YamlReader.relabel("routes[0]", "something odd (see: docs)"))
                .isEqualTo("routes[0]: something odd (see: docs)");
        assertThat(YamlReader.relabel("routes[0]", "no label at all")).isEqualTo("routes[0]: no label at all");
    }
}
