package dev.torii.server.internal;

import dev.torii.log.AccessLogFormat;
import dev.torii.server.config.ObservabilitySettings;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * Reads the {@code accessLog:} and {@code tracing:} sections and {@code admin.token} into {@link
 * ObservabilitySettings}. Errors go to the shared {@link YamlReader}, so {@code torii check} lists them with the rest.
 * Not thread-safe; one instance per file.
 */
final class ObservabilityReader {
    static final List<String> TOP_KEYS = List.of("accessLog", "tracing");
    private static final List<String> ACCESS_LOG_KEYS = List.of("format", "path");
    private static final List<String> TRACING_KEYS = List.of("endpoint", "samplingRatio", "serviceName");

    private final YamlReader yaml;
    private final Path baseDirectory;
    private Optional<String> adminToken = Optional.empty();

    ObservabilityReader(YamlReader yaml, Path baseDirectory) {
        this.yaml = yaml;
        this.baseDirectory = baseDirectory;
    }

    /** Reads {@code admin.token} (the node may be {@code null}: no token in the file). */
    void readAdminToken(Node node) {
        if (node != null) {
            adminToken = Optional.ofNullable(yaml.nonBlank(node, "admin.token", "a non-empty token"));
        }
    }

    /** The settings of both sections ({@code null} nodes: section absent). */
    ObservabilitySettings read(Node accessLog, Node tracing) {
        return new ObservabilitySettings(readAccessLog(accessLog), readTracing(tracing), adminToken);
    }

    private Optional<ObservabilitySettings.AccessLog> readAccessLog(Node node) {
        if (node == null) {
            return Optional.empty();
        }
        YamlReader.Fields f = yaml.fields(node, "accessLog", ACCESS_LOG_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        AccessLogFormat format = AccessLogFormat.JSON;
        Node formatNode = f.value("format");
        if (formatNode != null) {
            String text = yaml.string(formatNode, f.path("format"));
            if (text == null) {
                return Optional.empty();
            }
            switch (text.toLowerCase(Locale.ROOT)) {
                case "json" -> format = AccessLogFormat.JSON;
                case "combined" -> format = AccessLogFormat.COMBINED;
                default -> {
                    yaml.error(formatNode, f.path("format") + ": '" + text + "' (expected: json or combined)");
                    return Optional.empty();
                }
            }
        }
        Optional<Path> path = Optional.empty();
        Node pathNode = f.value("path");
        if (pathNode != null) {
            String text = yaml.nonBlank(pathNode, f.path("path"), "a file, e.g. /var/log/torii/access.log, or stdout");
            if (text == null) {
                return Optional.empty();
            }
            if (!text.equals("stdout") && !text.equals("-")) {
                Path p = Path.of(text);
                path = Optional.of(baseDirectory == null || p.isAbsolute() ? p : baseDirectory.resolve(p));
            }
        }
        return Optional.of(new ObservabilitySettings.AccessLog(format, path));
    }

    private Optional<ObservabilitySettings.Tracing> readTracing(Node node) {
        if (node == null) {
            return Optional.empty();
        }
        YamlReader.Fields f = yaml.fields(node, "tracing", TRACING_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        String endpointText = yaml.requiredString(f, "endpoint");
        URI endpoint = null;
        if (endpointText != null) {
            try {
                endpoint = new URI(endpointText);
                if (!"http".equals(endpoint.getScheme()) && !"https".equals(endpoint.getScheme())
                        || endpoint.getHost() == null) {
                    throw new URISyntaxException(endpointText, "not an http(s) URL");
                }
            } catch (URISyntaxException e) {
                yaml.error(
                        f.value("endpoint"),
                        f.path("endpoint") + ": '" + endpointText
                                + "' (expected: an OTLP/HTTP URL, e.g. http://127.0.0.1:4318/v1/traces)");
                endpoint = null;
            }
        }
        double ratio = 1.0;
        Node ratioNode = f.value("samplingRatio");
        if (ratioNode != null) {
            String text = yaml.string(ratioNode, f.path("samplingRatio"));
            Double parsed = null;
            try {
                parsed = text == null ? null : Double.valueOf(text);
            } catch (NumberFormatException e) {
                parsed = null;
            }
            if (parsed == null || !(parsed >= 0 && parsed <= 1)) {
                if (text != null) {
                    yaml.error(
                            ratioNode,
                            f.path("samplingRatio") + ": '" + text + "' (expected: a number from 0 to 1, e.g. 0.1)");
                }
                return Optional.empty();
            }
            ratio = parsed;
        }
        String service = "torii";
        Node serviceNode = f.value("serviceName");
        if (serviceNode != null) {
            service = yaml.nonBlank(serviceNode, f.path("serviceName"), "a service name, e.g. edge-gateway");
        }
        if (endpoint == null || service == null) {
            return Optional.empty();
        }
        return Optional.of(new ObservabilitySettings.Tracing(endpoint, ratio, service));
    }
}
