package dev.torii.server.internal;

import dev.torii.Forwarding;
import dev.torii.Http2Limits;
import dev.torii.Limits;
import dev.torii.PathNormalization;
import dev.torii.server.internal.YamlReader.Fields;
import java.util.ArrayList;
import java.util.List;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.ScalarNode;

/** The {@code limits}, {@code forwarding} and {@code ioThreads} settings: what clients may do and what is sent upstream. Not thread-safe. */
final class LimitsReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("limits", "forwarding", "ioThreads");

    private static final List<String> LIMITS_KEYS = List.of(
            "maxRequestLineLength",
            "maxHeaderSize",
            "maxRequestBodySize",
            "headerReadTimeout",
            "idleTimeout",
            "maxConnections",
            "maxConnectionsPerClient",
            "newConnectionsPerClient",
            "minRequestBodyRate",
            "shutdownTimeout",
            "http2",
            "pathNormalization",
            "underscoresInHeaders",
            "maxRequestsPerConnection");
    private static final List<String> FORWARDING_KEYS = List.of("via", "viaName", "xForwarded", "trustedProxies");

    private final ConfigDraft draft;
    private final YamlReader yaml;

    LimitsReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.limits = readLimits(top.value("limits"));
        draft.forwarding = readForwarding(top.value("forwarding"));
        Node io = top.value("ioThreads");
        if (io != null) {
            Long n = yaml.integer(io, "ioThreads", 1, Integer.MAX_VALUE);
            draft.ioThreads = n == null ? draft.ioThreads : n.intValue();
        }
    }

    private Limits readLimits(Node node) {
        if (node == null) {
            return Limits.defaults();
        }
        Fields f = yaml.fields(node, "limits", LIMITS_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Limits.Builder b = Limits.builder();
        yaml.set(
                f,
                "maxRequestLineLength",
                (n, p) -> yaml.size(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxRequestLineLength(v.intValue()));
        yaml.set(
                f,
                "maxHeaderSize",
                (n, p) -> yaml.size(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxHeaderSize(v.intValue()));
        yaml.set(f, "maxRequestBodySize", this::bodySize, b::maxRequestBodySize);
        yaml.set(f, "headerReadTimeout", (n, p) -> yaml.duration(n, p, false), b::headerReadTimeout);
        yaml.set(f, "idleTimeout", (n, p) -> yaml.duration(n, p, false), b::idleTimeout);
        yaml.set(
                f,
                "maxConnections",
                (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxConnections(v.intValue()));
        yaml.set(
                f,
                "maxConnectionsPerClient",
                (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxConnectionsPerClient(v.intValue()));
        yaml.set(f, "newConnectionsPerClient", (n, p) -> DosReader.rate(yaml, n, p), b::newConnectionsPerClient);
        yaml.set(f, "minRequestBodyRate", (n, p) -> DosReader.bodyRate(yaml, n, p), b::minRequestBodyRate);
        yaml.set(f, "shutdownTimeout", (n, p) -> yaml.duration(n, p, true), b::shutdownTimeout);
        PathNormalization pn =
                PathNormalizationReader.read(yaml, f.value("pathNormalization"), f.path("pathNormalization"));
        if (pn != null) {
            b.pathNormalization(pn);
        }
        yaml.set(f, "underscoresInHeaders", yaml::bool, b::underscoresInHeaders);
        yaml.set(
                f,
                "maxRequestsPerConnection",
                (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxRequestsPerConnection(v.intValue()));
        Http2Limits h2 = draft.tls.readHttp2Limits(f.value("http2"), f.path("http2"));
        if (h2 != null) {
            draft.http2Limits = h2;
        }
        return yaml.build(f, before, () -> b.build());
    }

    /** A size, or {@code unlimited}: the engine's default, which a file could not otherwise restore. */
    private Long bodySize(Node node, String path) {
        if (node instanceof ScalarNode s && s.getValue().equals("unlimited")) {
            return Long.MAX_VALUE;
        }
        return yaml.size(node, path, 0, Long.MAX_VALUE);
    }

    private Forwarding readForwarding(Node node) {
        Forwarding defaults = Forwarding.defaults();
        if (node == null) {
            return defaults;
        }
        Fields f = yaml.fields(node, "forwarding", FORWARDING_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        boolean via = yaml.valueOr(f, "via", yaml::bool, defaults.via());
        boolean xForwarded = yaml.valueOr(f, "xForwarded", yaml::bool, defaults.xForwarded());
        String viaName = defaults.viaName();
        Node viaNameNode = f.value("viaName");
        if (viaNameNode != null) {
            viaName = yaml.string(viaNameNode, f.path("viaName"));
            if (viaName != null && !ConfigDraft.TOKEN.matcher(viaName).matches()) {
                yaml.error(
                        viaNameNode,
                        f.path("viaName") + ": '" + viaName + "' (expected: a token like torii, no spaces)");
            }
        }
        List<String> trusted = new ArrayList<>(defaults.trustedProxies());
        Node trustedNode = f.value("trustedProxies");
        if (trustedNode != null) {
            trusted.clear();
            List<Node> items = yaml.sequence(trustedNode, f.path("trustedProxies"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("trustedProxies") + "[" + i + "]";
                String cidr = yaml.string(items.get(i), itemPath);
                if (cidr != null
                        && yaml.probe(items.get(i), itemPath, () -> new Forwarding(true, "x", true, List.of(cidr)))) {
                    trusted.add(cidr);
                }
            }
        }
        String name = viaName;
        return yaml.build(f, before, () -> new Forwarding(via, name, xForwarded, trusted));
    }
}
