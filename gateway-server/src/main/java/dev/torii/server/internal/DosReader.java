package dev.torii.server.internal;

import dev.torii.MinBodyRate;
import dev.torii.ratelimit.Bandwidth;
import dev.torii.server.internal.YamlReader.Fields;
import java.time.Duration;
import java.util.List;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * Reads the DoS settings that live inside other sections: {@code limits.newConnectionsPerClient} and a listener's own
 * {@code newConnectionsPerClient} ({@code { rate, per, burst }}), and {@code limits.minRequestBodyRate}
 * ({@code { bytes, per, grace }}). The sections' readers call it with the node; errors
 * go to the shared {@link YamlReader}, each at its own value. Not thread-safe.
 */
final class DosReader {
    private static final List<String> RATE_KEYS = List.of("rate", "per", "burst");
    private static final List<String> BODY_RATE_KEYS = List.of("bytes", "per", "grace");

    private DosReader() {}

    /**
     * A {@code { rate, per, burst }} mapping: {@code rate} connections every {@code per} (default 1s), at most
     * {@code burst} (default {@code rate}) at once; {@code null} after reporting what is wrong.
     */
    static Bandwidth rate(YamlReader yaml, Node node, String path) {
        Fields f = yaml.fields(node, path, RATE_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Node rateNode = f.value("rate");
        if (rateNode == null) {
            yaml.error(
                    node,
                    path + ": missing key 'rate' (expected: connections per 'per', e.g. { rate: 20, per: 1s,"
                            + " burst: 40 })");
            return null;
        }
        Long rate = yaml.integer(rateNode, f.path("rate"), 1, Long.MAX_VALUE);
        Duration per = yaml.valueOr(f, "per", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        Long burst = yaml.valueOr(f, "burst", (n, p) -> yaml.integer(n, p, 1, Long.MAX_VALUE), rate);
        return yaml.build(f, before, () -> new Bandwidth(rate, per, burst));
    }

    /**
     * A {@code { bytes, per, grace }} mapping: at least {@code bytes} (a size: 1000, 8k) every {@code per} (default
     * 1s) once {@code grace} (default 5s) has passed; {@code null} after reporting what is wrong.
     */
    static MinBodyRate bodyRate(YamlReader yaml, Node node, String path) {
        Fields f = yaml.fields(node, path, BODY_RATE_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Node bytesNode = f.value("bytes");
        if (bytesNode == null) {
            yaml.error(
                    node,
                    path + ": missing key 'bytes' (expected: bytes per 'per', e.g. { bytes: 1k, per: 1s,"
                            + " grace: 5s })");
            return null;
        }
        Long bytes = yaml.size(bytesNode, f.path("bytes"), 1, Long.MAX_VALUE);
        Duration per = yaml.valueOr(f, "per", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        Duration grace = yaml.valueOr(f, "grace", (n, p) -> yaml.duration(n, p, true), Duration.ofSeconds(5));
        return yaml.build(f, before, () -> new MinBodyRate(bytes, per, grace));
    }
}
