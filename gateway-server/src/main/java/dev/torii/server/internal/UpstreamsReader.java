package dev.torii.server.internal;

import dev.torii.server.internal.YamlReader.Fields;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import dev.torii.upstream.UpstreamTls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;

/** The {@code upstreams} section: endpoints, pools, timeouts, protocol and TLS of each upstream. Not thread-safe. */
final class UpstreamsReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("upstreams");

    private static final List<String> UPSTREAM_KEYS = List.of(
            "endpoints",
            "loadBalancer",
            "connectTimeout",
            "responseTimeout",
            "maxConnectionsPerEndpoint",
            "maxIdlePerEndpoint",
            "idleTimeout",
            "maxPendingAcquires",
            "protocol",
            "tls");
    private static final List<String> UPSTREAM_TLS_KEYS = List.of("ca", "serverName", "verify");

    private final ConfigDraft draft;
    private final YamlReader yaml;

    UpstreamsReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.upstreams = readUpstreams(top.value("upstreams"));
    }

    private Map<String, Upstream> readUpstreams(Node node) {
        Map<String, Upstream> upstreams = new LinkedHashMap<>();
        if (node == null) {
            return upstreams;
        }
        Map<String, NodeTuple> entries = yaml.mapping(node, "upstreams");
        if (entries == null) {
            return upstreams;
        }
        entries.forEach((name, tuple) -> {
            Upstream u = readUpstream(name, tuple.getValueNode(), "upstreams." + name);
            // A bad upstream still counts as defined, so routes naming it are not reported a second time.
            upstreams.put(name, u);
        });
        return upstreams;
    }

    private Upstream readUpstream(String name, Node node, String path) {
        Fields f = yaml.fields(node, path, UPSTREAM_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Upstream.Builder b = Upstream.builder(name);
        Node endpointsNode = f.value("endpoints");
        if (endpointsNode == null) {
            yaml.error(node, path + ": missing key 'endpoints' (expected: a list of host:port)");
        } else {
            List<Node> items = yaml.sequence(endpointsNode, f.path("endpoints"));
            if (items != null && items.isEmpty()) {
                yaml.error(endpointsNode, f.path("endpoints") + ": [] (expected: at least one host:port)");
            }
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("endpoints") + "[" + i + "]";
                String text = yaml.string(items.get(i), itemPath);
                if (text != null) {
                    try {
                        b.endpoint(Endpoint.parse(text));
                    } catch (IllegalArgumentException e) {
                        yaml.error(items.get(i), YamlReader.relabel(itemPath, e.getMessage()));
                    }
                }
            }
        }
        Node lbNode = f.value("loadBalancer");
        if (lbNode != null) {
            String lb = yaml.string(lbNode, f.path("loadBalancer"));
            if (lb != null) {
                LoadBalancing policy = Arrays.stream(LoadBalancing.values())
                        .filter(p -> p.configName().equals(lb))
                        .findFirst()
                        .orElse(null);
                if (policy == null) {
                    yaml.error(
                            lbNode,
                            f.path("loadBalancer") + ": '" + lb + "' (expected one of: "
                                    + Arrays.stream(LoadBalancing.values())
                                            .map(LoadBalancing::configName)
                                            .collect(Collectors.joining(", "))
                                    + ")");
                } else {
                    b.loadBalancing(policy);
                }
            }
        }
        yaml.set(f, "connectTimeout", (n, p) -> yaml.duration(n, p, false), b::connectTimeout);
        yaml.set(f, "responseTimeout", (n, p) -> yaml.duration(n, p, false), b::responseTimeout);
        yaml.set(f, "idleTimeout", (n, p) -> yaml.duration(n, p, false), b::idleTimeout);
        yaml.set(
                f,
                "maxConnectionsPerEndpoint",
                (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE),
                v -> b.maxConnectionsPerEndpoint(v.intValue()));
        yaml.set(
                f,
                "maxIdlePerEndpoint",
                (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxIdlePerEndpoint(v.intValue()));
        yaml.set(
                f,
                "maxPendingAcquires",
                (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE),
                v -> b.maxPendingAcquires(v.intValue()));
        Node protocolNode = f.value("protocol");
        UpstreamProtocol protocol = UpstreamProtocol.HTTP_1_1;
        if (protocolNode != null) {
            String text = yaml.string(protocolNode, f.path("protocol"));
            if (text != null) {
                try {
                    protocol = UpstreamProtocol.ofConfigName(text);
                    b.protocol(protocol);
                } catch (IllegalArgumentException e) {
                    yaml.error(protocolNode, YamlReader.relabel(f.path("protocol"), e.getMessage()));
                    protocol = null;
                }
            }
        }
        Node tlsNode = f.value("tls");
        if (tlsNode != null && protocol != null && !protocol.tls()) {
            yaml.error(
                    tlsNode,
                    f.path("tls") + ": set with protocol " + protocol.configName()
                            + " (expected: protocol https or h2 to use TLS settings)");
        } else if (tlsNode != null) {
            UpstreamTls tls = readUpstreamTls(tlsNode, f.path("tls"));
            if (tls != null) {
                b.tls(tls);
            }
        }
        return yaml.build(f, before, () -> b.build());
    }

    /** {@code tls: { ca: certs/ca.pem, serverName: api.internal, verify: true }}; {@code ca} relative to the file. */
    private UpstreamTls readUpstreamTls(Node node, String path) {
        Fields f = yaml.fields(node, path, UPSTREAM_TLS_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        UpstreamTls.Builder b = UpstreamTls.builder();
        Node caNode = f.value("ca");
        if (caNode != null) {
            String ca = yaml.nonBlank(caNode, f.path("ca"), "a PEM file of CA certificates");
            if (ca != null) {
                Path file = Path.of(ca);
                Path resolved = (draft.baseDirectory == null || file.isAbsolute()
                                ? file
                                : draft.baseDirectory.resolve(file))
                        .normalize();
                String problem = caFileProblem(resolved);
                if (problem != null) {
                    yaml.error(caNode, f.path("ca") + ": " + ca + " (" + problem + ")");
                } else {
                    b.caFile(resolved);
                }
            }
        }
        Node nameNode = f.value("serverName");
        if (nameNode != null) {
            String name = yaml.nonBlank(nameNode, f.path("serverName"), "a host name");
            if (name != null && yaml.probe(nameNode, f.path("serverName"), () -> new UpstreamTls(null, name, true))) {
                b.serverName(name);
            }
        }
        Node verifyNode = f.value("verify");
        if (verifyNode != null) {
            Boolean verify = yaml.bool(verifyNode, f.path("verify"));
            if (Boolean.FALSE.equals(verify)) {
                b.insecureSkipVerify();
            }
        }
        return yaml.build(f, before, () -> b.build());
    }

    /** Why {@code file} is not a usable PEM file of CA certificates, or null when it is. */
    private static String caFileProblem(Path file) {
        if (!Files.isReadable(file)) {
            return "expected: a readable PEM file of CA certificates; " + file + " cannot be read";
        }
        try (var in = Files.newInputStream(file)) {
            var certificates = CertificateFactory.getInstance("X.509").generateCertificates(in);
            return certificates.isEmpty() ? "expected: PEM certificates; " + file + " holds none" : null;
        } catch (IOException | CertificateException e) {
            return "expected: PEM certificates; " + file + " cannot be parsed: " + e.getMessage();
        }
    }
}
