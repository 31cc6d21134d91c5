package dev.torii.server.internal;

import dev.torii.proxyprotocol.ProxyProtocolVersion;
import dev.torii.server.internal.YamlReader.Fields;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.HealthCheck;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.OutlierDetection;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import dev.torii.upstream.UpstreamTls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
            "tls",
            "outlierDetection",
            "healthCheck",
            "panic",
            "proxyProtocol");
    private static final List<String> UPSTREAM_TLS_KEYS = List.of("ca", "serverName", "verify");
    private static final List<String> OUTLIER_KEYS =
            List.of("consecutiveFailures", "baseEjectionTime", "maxEjectionTime", "maxEjectionPercent");
    private static final List<String> HEALTH_CHECK_KEYS = List.of(
            "protocol",
            "path",
            "expectedStatuses",
            "host",
            "interval",
            "timeout",
            "healthyThreshold",
            "unhealthyThreshold",
            "jitter");

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
        Node odNode = f.value("outlierDetection");
        if (odNode != null) {
            OutlierDetection od = readOutlierDetection(odNode, f.path("outlierDetection"));
            if (od != null) {
                b.outlierDetection(od);
            }
        }
        Node hcNode = f.value("healthCheck");
        if (hcNode != null) {
            HealthCheck hc = readHealthCheck(hcNode, f.path("healthCheck"));
            if (hc != null) {
                b.healthCheck(hc);
            }
        }
        yaml.set(f, "panic", yaml::bool, b::panic);
        Node ppNode = f.value("proxyProtocol");
        if (ppNode != null) {
            String v = yaml.string(ppNode, f.path("proxyProtocol"));
            if ("v1".equals(v)) {
                b.proxyProtocol(ProxyProtocolVersion.V1);
            } else if ("v2".equals(v)) {
                b.proxyProtocol(ProxyProtocolVersion.V2);
            } else if (v != null) {
                yaml.error(ppNode, f.path("proxyProtocol") + ": '" + v + "' (expected: v1 or v2)");
            }
        }
        return yaml.build(f, before, () -> b.build());
    }

    /**
     * {@code outlierDetection: { consecutiveFailures: 5, baseEjectionTime: 30s, maxEjectionTime: 300s,
     * maxEjectionPercent: 50 }}; every key optional ({@link OutlierDetection#DEFAULTS}).
     */
    private OutlierDetection readOutlierDetection(Node node, String path) {
        Fields f = yaml.fields(node, path, OUTLIER_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        OutlierDetection d = OutlierDetection.DEFAULTS;
        int failures = yaml.valueOr(f, "consecutiveFailures", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), (long)
                        d.consecutiveFailures())
                .intValue();
        Duration base = yaml.valueOr(f, "baseEjectionTime", (n, p) -> yaml.duration(n, p, false), d.baseEjectionTime());
        Duration max = yaml.valueOr(
                f,
                "maxEjectionTime",
                (n, p) -> yaml.duration(n, p, false),
                base.compareTo(d.maxEjectionTime()) > 0 ? base : d.maxEjectionTime());
        int percent = yaml.valueOr(
                        f, "maxEjectionPercent", (n, p) -> yaml.integer(n, p, 0, 100), (long) d.maxEjectionPercent())
                .intValue();
        return yaml.build(f, before, () -> new OutlierDetection(failures, base, max, percent));
    }

    /**
     * {@code healthCheck: { path: /healthz, expectedStatuses: [200, "200-399", 2xx], host: h, interval: 5s,
     * timeout: 2s, healthyThreshold: 2, unhealthyThreshold: 3, jitter: 1s }}; {@code path} required, unless {@code
     * protocol: tcp} (a TCP connect check, for the upstreams of TCP listeners).
     */
    private HealthCheck readHealthCheck(Node node, String path) {
        Fields f = yaml.fields(node, path, HEALTH_CHECK_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        String kind = yaml.valueOr(f, "protocol", (n, p) -> yaml.string(n, p), "http");
        boolean tcp = "tcp".equals(kind);
        if (kind != null && !tcp && !"http".equals(kind)) {
            yaml.error(f.value("protocol"), f.path("protocol") + ": '" + kind + "' (expected: http or tcp)");
            return null;
        }
        if (tcp) {
            for (String httpOnly : List.of("path", "expectedStatuses", "host")) {
                if (f.value(httpOnly) != null) {
                    yaml.error(
                            f.value(httpOnly),
                            f.path(httpOnly) + ": only for protocol: http checks (a tcp check only connects)");
                }
            }
        }
        String checkPath = tcp ? null : yaml.requiredString(f, "path");
        if (!tcp && checkPath == null) {
            return null;
        }
        HealthCheck d = tcp ? HealthCheck.tcp() : HealthCheck.of(checkPath.startsWith("/") ? checkPath : "/");
        Set<Integer> statuses = d.expectedStatuses();
        Node statusesNode = f.value("expectedStatuses");
        if (statusesNode != null) {
            statuses = readStatuses(statusesNode, f.path("expectedStatuses"));
        }
        String host = yaml.valueOr(f, "host", (n, p) -> yaml.nonBlank(n, p, "a host name"), null);
        Duration interval = yaml.valueOr(f, "interval", (n, p) -> yaml.duration(n, p, false), d.interval());
        Duration timeout = yaml.valueOr(
                f,
                "timeout",
                (n, p) -> yaml.duration(n, p, false),
                d.timeout().compareTo(interval) > 0 ? interval : d.timeout());
        int healthy = yaml.valueOr(f, "healthyThreshold", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), (long)
                        d.healthyThreshold())
                .intValue();
        int unhealthy = yaml.valueOr(f, "unhealthyThreshold", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), (long)
                        d.unhealthyThreshold())
                .intValue();
        Duration jitter = yaml.valueOr(f, "jitter", (n, p) -> yaml.duration(n, p, true), d.jitter());
        Set<Integer> expected = statuses;
        return yaml.build(
                f,
                before,
                () -> new HealthCheck(checkPath, expected, host, interval, timeout, healthy, unhealthy, jitter));
    }

    /** A list of statuses: {@code 200}, {@code "200-399"} or {@code 2xx}. */
    private Set<Integer> readStatuses(Node node, String path) {
        List<Node> items = yaml.sequence(node, path);
        Set<Integer> out = new TreeSet<>();
        if (items == null) {
            return out;
        }
        if (items.isEmpty()) {
            yaml.error(node, path + ": [] (expected: at least one status, e.g. [200, \"300-399\", 2xx])");
        }
        for (int i = 0; i < items.size(); i++) {
            String itemPath = path + "[" + i + "]";
            String text = yaml.string(items.get(i), itemPath);
            if (text == null) {
                continue;
            }
            Matcher m = STATUS.matcher(text.strip());
            if (!m.matches()) {
                yaml.error(
                        items.get(i),
                        itemPath + ": '" + text + "' (expected: a status 100-599, a range"
                                + " such as 200-399, or a class such as 2xx)");
                continue;
            }
            int from;
            int to;
            if (m.group(3) != null) {
                from = Integer.parseInt(m.group(3)) * 100;
                to = from + 99;
            } else {
                from = Integer.parseInt(m.group(1));
                to = m.group(2) != null ? Integer.parseInt(m.group(2)) : from;
            }
            if (from < 100 || to > 599 || from > to) {
                yaml.error(items.get(i), itemPath + ": '" + text + "' (expected: statuses within 100-599, low-high)");
                continue;
            }
            out.addAll(HealthCheck.statusRange(from, to));
        }
        return out;
    }

    private static final Pattern STATUS = Pattern.compile("(\\d{3})(?:-(\\d{3}))?|([1-5])xx");

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
