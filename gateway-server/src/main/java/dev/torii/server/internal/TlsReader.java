package dev.torii.server.internal;

import dev.torii.Http2Limits;
import dev.torii.server.internal.YamlReader.Fields;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * Reads a listener's {@code tls} mapping and the {@code limits.http2} mapping. Certificate and key paths are
 * relative to the configuration file; each file must exist, and a certificate must parse, so {@code torii check}
 * finds a wrong path or a key given as the certificate before a start does.
 */
final class TlsReader {
    static final List<String> TLS_KEYS = List.of("certificates", "protocols", "http2", "reloadInterval", "provider");
    static final List<String> CERTIFICATE_KEYS = List.of("cert", "key", "names");
    static final List<String> HTTP2_KEYS = List.of(
            "maxConcurrentStreams",
            "initialStreamWindow",
            "connectionWindow",
            "maxFrameSize",
            "maxResetsPerWindow",
            "maxControlFramesPerWindow",
            "floodWindow",
            "maxSmallContinuationFrames",
            "maxConsecutiveEmptyDataFrames",
            "maxQueuedControlFrames",
            "idleTimeout");

    private final YamlReader yaml;
    private final Path baseDirectory;

    TlsReader(YamlReader yaml, Path baseDirectory) {
        this.yaml = yaml;
        this.baseDirectory = baseDirectory;
    }

    /** The TLS settings of an {@code https} listener, or {@code null} after reporting what is wrong. */
    ServerTls readTls(Node node, String path) {
        Fields f = yaml.fields(node, path, TLS_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        ServerTls.Builder b = ServerTls.builder();
        Node certsNode = f.value("certificates");
        if (certsNode == null) {
            yaml.error(node, path + ": missing key 'certificates' (expected: a list of { cert, key })");
            return null;
        }
        List<Node> items = yaml.sequence(certsNode, f.path("certificates"));
        if (items != null && items.isEmpty()) {
            yaml.error(certsNode, f.path("certificates") + ": [] (expected: at least one { cert, key })");
        }
        List<CertificateFiles> certificates = new ArrayList<>();
        for (int i = 0; items != null && i < items.size(); i++) {
            CertificateFiles c = readCertificate(items.get(i), f.path("certificates") + "[" + i + "]");
            if (c != null) {
                certificates.add(c);
            }
        }
        b.certificates(certificates);
        Node protocolsNode = f.value("protocols");
        if (protocolsNode != null) {
            List<Node> list = yaml.sequence(protocolsNode, f.path("protocols"));
            Set<String> protocols = new LinkedHashSet<>();
            for (int i = 0; list != null && i < list.size(); i++) {
                String itemPath = f.path("protocols") + "[" + i + "]";
                String p = yaml.string(list.get(i), itemPath);
                if (p != null && !ServerTls.SUPPORTED_PROTOCOLS.contains(p)) {
                    yaml.error(list.get(i), itemPath + ": '" + p + "' (expected: TLSv1.2 or TLSv1.3)");
                } else if (p != null) {
                    protocols.add(p);
                }
            }
            if (list != null && list.isEmpty()) {
                yaml.error(protocolsNode, f.path("protocols") + ": [] (expected: TLSv1.2, TLSv1.3 or both)");
            }
            b.protocols(protocols);
        }
        yaml.set(f, "http2", yaml::bool, b::http2);
        yaml.set(f, "reloadInterval", (n, p) -> yaml.duration(n, p, true), b::reloadInterval);
        Node providerNode = f.value("provider");
        if (providerNode != null) {
            String p = yaml.string(providerNode, f.path("provider"));
            if (p != null) {
                switch (p) {
                    case "auto" -> b.provider(ServerTls.Provider.AUTO);
                    case "openssl" -> b.provider(ServerTls.Provider.OPENSSL);
                    case "jdk" -> b.provider(ServerTls.Provider.JDK);
                    default ->
                        yaml.error(
                                providerNode,
                                f.path("provider") + ": '" + p + "' (expected one of: auto, openssl, jdk)");
                }
            }
        }
        return yaml.build(f, before, () -> b.build());
    }

    private CertificateFiles readCertificate(Node node, String path) {
        Fields f = yaml.fields(node, path, CERTIFICATE_KEYS, List.of());
        if (f == null) {
            return null;
        }
        String cert = yaml.requiredString(f, "cert");
        String key = yaml.requiredString(f, "key");
        Path certPath = cert == null ? null : resolve(cert);
        Path keyPath = key == null ? null : resolve(key);
        boolean ok = cert != null && key != null;
        if (cert != null) {
            ok &= checkFile(f.value("cert"), f.path("cert"), cert, certPath, "a PEM certificate chain")
                    && parses(f, cert, certPath);
        }
        if (key != null) {
            ok &= checkFile(f.value("key"), f.path("key"), key, keyPath, "a PEM private key");
        }
        List<String> names = new ArrayList<>();
        Node namesNode = f.value("names");
        if (namesNode != null) {
            List<Node> items = yaml.sequence(namesNode, f.path("names"));
            Set<String> seen = new HashSet<>();
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("names") + "[" + i + "]";
                String name = yaml.nonBlank(items.get(i), itemPath, "a host name like example.com or *.example.com");
                if (name != null && !name.matches("(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")) {
                    ok = false;
                    yaml.error(
                            items.get(i),
                            itemPath + ": '" + name + "' (expected: a host name like example.com or *.example.com)");
                } else if (name != null && seen.add(name)) {
                    names.add(name);
                }
            }
        }
        return ok ? new CertificateFiles(certPath, keyPath, names) : null;
    }

    private boolean parses(Fields f, String cert, Path certPath) {
        try {
            CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(Files.readAllBytes(certPath)))
                    .stream()
                    .findFirst()
                    .orElseThrow(() -> new CertificateException("no certificate in the file"));
            return true;
        } catch (IOException | CertificateException e) {
            yaml.error(
                    f.value("cert"),
                    f.path("cert") + ": '" + cert + "' (expected: a PEM certificate chain; " + e.getMessage() + ")");
            return false;
        }
    }

    private boolean checkFile(Node node, String path, String text, Path file, String expected) {
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            yaml.error(
                    node, path + ": '" + text + "' (expected: " + expected + "; " + file + " is not a readable file)");
            return false;
        }
        return true;
    }

    private Path resolve(String file) {
        Path p = Path.of(file);
        return p.isAbsolute() || baseDirectory == null
                ? p
                : baseDirectory.resolve(p).normalize();
    }

    /** {@code limits.http2}: the HTTP/2 connection limits, or {@code null} after reporting what is wrong. */
    Http2Limits readHttp2Limits(Node node, String path) {
        if (node == null) {
            return Http2Limits.defaults();
        }
        Fields f = yaml.fields(node, path, HTTP2_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        Http2Limits.Builder b = Http2Limits.builder();
        yaml.set(f, "maxConcurrentStreams", this::count, v -> b.maxConcurrentStreams(v.intValue()));
        yaml.set(
                f,
                "initialStreamWindow",
                (n, p) -> yaml.size(n, p, 65_535, Integer.MAX_VALUE),
                v -> b.initialStreamWindow(v.intValue()));
        yaml.set(
                f,
                "connectionWindow",
                (n, p) -> yaml.size(n, p, 65_535, Integer.MAX_VALUE),
                v -> b.connectionWindow(v.intValue()));
        yaml.set(f, "maxFrameSize", (n, p) -> yaml.size(n, p, 16_384, 16_777_215), v -> b.maxFrameSize(v.intValue()));
        yaml.set(f, "maxResetsPerWindow", this::count, v -> b.maxResetsPerWindow(v.intValue()));
        yaml.set(f, "maxControlFramesPerWindow", this::count, v -> b.maxControlFramesPerWindow(v.intValue()));
        yaml.set(f, "floodWindow", (n, p) -> yaml.duration(n, p, false), b::floodWindow);
        yaml.set(f, "maxSmallContinuationFrames", this::count, v -> b.maxSmallContinuationFrames(v.intValue()));
        yaml.set(f, "maxConsecutiveEmptyDataFrames", this::count, v -> b.maxConsecutiveEmptyDataFrames(v.intValue()));
        yaml.set(f, "maxQueuedControlFrames", this::count, v -> b.maxQueuedControlFrames(v.intValue()));
        yaml.set(f, "idleTimeout", (n, p) -> yaml.duration(n, p, false), b::idleTimeout);
        return yaml.build(f, before, () -> b.build());
    }

    private Long count(Node node, String path) {
        return yaml.integer(node, path, 1, Integer.MAX_VALUE);
    }
}
