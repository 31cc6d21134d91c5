package dev.torii.server.internal;

import dev.torii.PathNormalization;
import dev.torii.PathNormalization.EscapedSlashes;
import dev.torii.server.internal.YamlReader.Fields;
import java.util.List;
import java.util.Locale;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * Reads {@code limits.pathNormalization} and {@code listeners[].pathNormalization}: {@code { enabled, mergeSlashes,
 * escapedSlashes: keep|reject|unescape|redirect }}, or
 * {@code false} to forward paths as received. Not thread-safe.
 */
final class PathNormalizationReader {
    private static final List<String> KEYS = List.of("enabled", "mergeSlashes", "escapedSlashes");

    private PathNormalizationReader() {}

    /** The settings at {@code node} (the defaults when absent), or {@code null} after reporting an error. */
    static PathNormalization read(YamlReader yaml, Node node, String path) {
        PathNormalization defaults = PathNormalization.defaults();
        if (node == null) {
            return defaults;
        }
        if (node instanceof org.snakeyaml.engine.v2.nodes.ScalarNode) {
            Boolean on = yaml.bool(node, path);
            return on == null ? null : on ? defaults : PathNormalization.off();
        }
        Fields f = yaml.fields(node, path, KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        boolean enabled = yaml.valueOr(f, "enabled", yaml::bool, defaults.enabled());
        boolean merge = yaml.valueOr(f, "mergeSlashes", yaml::bool, defaults.mergeSlashes());
        EscapedSlashes escaped =
                yaml.valueOr(f, "escapedSlashes", (n, p) -> escapedSlashes(yaml, n, p), defaults.escapedSlashes());
        return yaml.build(f, before, () -> new PathNormalization(enabled, merge, escaped));
    }

    private static EscapedSlashes escapedSlashes(YamlReader yaml, Node node, String path) {
        String s = yaml.string(node, path);
        if (s == null) {
            return null;
        }
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "keep" -> EscapedSlashes.KEEP;
            case "reject" -> EscapedSlashes.REJECT;
            case "unescape" -> EscapedSlashes.UNESCAPE;
            case "redirect" -> EscapedSlashes.REDIRECT;
            default -> {
                yaml.error(node, path + ": '" + s + "' (expected: keep, reject, unescape or redirect)");
                yield null;
            }
        };
    }
}
