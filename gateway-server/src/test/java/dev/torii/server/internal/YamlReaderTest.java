package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.constructor.StandardConstructor;
import org.snakeyaml.engine.v2.nodes.Node;

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

    private static final Map<String, String> ENV = Map.of("PORT", "8080", "HOST", "10.0.0.7", "EMPTY", "");

    private static Map<?, ?> substituted(String yaml) throws ConfigException {
        YamlReader r = new YamlReader("torii.yaml", ENV::get);
        Node root = r.compose(yaml, "a mapping");
        if (r.errorCount() > 0) {
            throw r.failure();
        }
        return (Map<?, ?>)
                new StandardConstructor(LoadSettings.builder().build()).constructSingleDocument(Optional.of(root));
    }

    private static List<String> errors(String yaml) {
        YamlReader r = new YamlReader("torii.yaml", ENV::get);
        try {
            r.compose(yaml, "a mapping");
        } catch (ConfigException e) {
            return e.errors().stream().map(Object::toString).toList();
        }
        return r.failure().errors().stream().map(Object::toString).toList();
    }

    @Test
    void environmentReferencesAreReplacedAndPlainValuesRetyped() throws ConfigException {
        Map<?, ?> m = substituted("""
                port: ${PORT}
                quoted: "${PORT}"
                address: "${HOST}:${PORT}"
                list: [ "http://${HOST}/", "x${PORT}y" ]
                """);
        assertThat(m.get("port")).isEqualTo(8080);
        assertThat(m.get("quoted")).isEqualTo("8080");
        assertThat(m.get("address")).isEqualTo("10.0.0.7:8080");
        assertThat(m.get("list")).isEqualTo(List.of("http://10.0.0.7/", "x8080y"));
    }

    @Test
    void aDefaultAppliesWhenTheVariableIsUnsetOrEmpty() throws ConfigException {
        Map<?, ?> m = substituted("""
                a: ${NOPE:-9000}
                b: ${EMPTY:-fallback}
                c: ${PORT:-1}
                d: "${NOPE:-}"
                e: $${PORT} and a$b
                """);
        assertThat(m.get("a")).isEqualTo(9000);
        assertThat(m.get("b")).isEqualTo("fallback");
        assertThat(m.get("c")).isEqualTo(8080);
        assertThat(m.get("d")).isEqualTo("");
        assertThat(m.get("e")).isEqualTo("${PORT} and a$b");
    }

    @Test
    void aMissingVariableIsAnErrorAtThePositionOfItsReference() {
        assertThat(errors("""
                listeners:
                  - address: "127.0.0.1:${WEB_PORT}"
                admin: ${ADMIN}
                bad: ${1X}
                open: ${PORT
                """))
                .containsExactly(
                        "torii.yaml:2:25: ${WEB_PORT}: environment variable WEB_PORT is not set (expected: set, or a"
                                + " default as ${WEB_PORT:-default})",
                        "torii.yaml:3:8: ${ADMIN}: environment variable ADMIN is not set (expected: set, or a default"
                                + " as ${ADMIN:-default})",
                        "torii.yaml:4:6: '${1X}' (expected: ${NAME} or ${NAME:-default}, or $${ for a literal ${)",
                        "torii.yaml:5:7: '${PORT' (expected: ${NAME} or ${NAME:-default}, or $${ for a literal ${)");
    }

    @Test
    void keysAreNotSubstituted() throws ConfigException {
        assertThat(substituted("${PORT}: x\n")).isEqualTo(Map.of("${PORT}", "x"));
    }
}
