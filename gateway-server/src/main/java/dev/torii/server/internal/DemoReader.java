package dev.torii.server.internal;

import dev.torii.server.internal.YamlReader.Fields;
import dev.torii.upstream.Endpoint;
import java.util.List;
import java.util.Optional;
import org.snakeyaml.engine.v2.nodes.Node;

/** The {@code demo} section: the built-in echo service started beside the gateway. Not thread-safe. */
final class DemoReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("demo");

    private static final List<String> DEMO_KEYS = List.of("echo");

    private final ConfigDraft draft;
    private final YamlReader yaml;

    DemoReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.demoEcho = readDemo(top.value("demo"));
    }

    private Optional<Endpoint> readDemo(Node node) {
        if (node == null) {
            return Optional.empty();
        }
        Fields f = yaml.fields(node, "demo", DEMO_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        Node echoNode = f.value("echo");
        if (echoNode == null) {
            return Optional.empty();
        }
        String text = yaml.string(echoNode, f.path("echo"));
        if (text == null) {
            return Optional.empty();
        }
        Endpoint echo;
        try {
            echo = Endpoint.parse(text);
        } catch (IllegalArgumentException e) {
            yaml.error(echoNode, f.path("echo") + ": '" + text + "' (expected: host:port, e.g. 127.0.0.1:9000)");
            return Optional.empty();
        }
        ConfigDraft.Claim claim = draft.claimOf(echo.host(), echo.port());
        if (claim != null) {
            yaml.error(
                    echoNode,
                    f.path("echo") + ": '" + text + "' (expected: an address no listener uses; listener '"
                            + claim.name() + "' is there)");
            return Optional.empty();
        }
        return Optional.of(echo);
    }
}
