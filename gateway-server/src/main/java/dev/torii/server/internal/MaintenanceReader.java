package dev.torii.server.internal;

import dev.torii.maintenance.MaintenanceMode;
import dev.torii.server.config.MaintenanceSettings;
import dev.torii.server.internal.YamlReader.Fields;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.snakeyaml.engine.v2.nodes.Node;

/** The {@code maintenance} section: how the maintenance switch starts. Not thread-safe. */
final class MaintenanceReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("maintenance");

    private static final List<String> MAINTENANCE_KEYS = java.util.stream.Stream.concat(
                    java.util.stream.Stream.of(
                            "enabled", "file", "page", "contentType", "retryAfter", "bypass", "respond"),
                    GuardsReader.MAINTENANCE_KEYS.stream())
            .toList();

    private final ConfigDraft draft;
    private final YamlReader yaml;

    MaintenanceReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.maintenance = readMaintenance(top.value("maintenance"));
    }

    private MaintenanceSettings readMaintenance(Node node) {
        MaintenanceSettings defaults = MaintenanceSettings.defaults();
        if (node == null) {
            return defaults;
        }
        Fields f = yaml.fields(node, "maintenance", MAINTENANCE_KEYS, List.of());
        if (f == null) {
            return defaults;
        }
        boolean enabled = yaml.valueOr(f, "enabled", yaml::bool, false);
        boolean respond = yaml.valueOr(f, "respond", yaml::bool, true);
        Duration retryAfter = yaml.valueOr(f, "retryAfter", (n, p) -> yaml.duration(n, p, true), defaults.retryAfter());
        Optional<Path> file = Optional.empty();
        Node fileNode = f.value("file");
        if (fileNode != null) {
            String text = yaml.nonBlank(fileNode, f.path("file"), "a path, e.g. maintenance.on");
            if (text != null) {
                Path p = draft.resolve(text);
                if (p.getParent() != null && !Files.isDirectory(p.getParent())) {
                    yaml.error(
                            fileNode,
                            f.path("file") + ": '" + text + "' (expected: a path in an existing directory; "
                                    + p.getParent() + " is not one)");
                } else {
                    file = Optional.of(p);
                }
            }
        }
        Optional<byte[]> page = Optional.empty();
        String contentType = defaults.contentType();
        Node pageNode = f.value("page");
        if (pageNode != null) {
            String text = yaml.nonBlank(pageNode, f.path("page"), "a file, e.g. maintenance.html");
            if (text != null) {
                Path p = draft.resolve(text);
                try {
                    page = Optional.of(Files.readAllBytes(p));
                    contentType = contentTypeOf(p);
                } catch (IOException e) {
                    yaml.error(
                            pageNode,
                            f.path("page") + ": '" + text + "' (expected: a readable file; " + p + ": "
                                    + (e instanceof java.nio.file.NoSuchFileException ? "no such file" : e.toString())
                                    + ")");
                }
            }
        }
        Node typeNode = f.value("contentType");
        if (typeNode != null) {
            String type = yaml.nonBlank(typeNode, f.path("contentType"), "a media type, e.g. text/html");
            if (type != null) {
                contentType = type;
                if (pageNode == null) {
                    yaml.error(
                            typeNode,
                            f.path("contentType") + ": '" + type + "' (expected: only with page, which it describes)");
                }
            }
        }
        List<String> bypass = new ArrayList<>();
        Node bypassNode = f.value("bypass");
        if (bypassNode != null) {
            List<Node> items = yaml.sequence(bypassNode, f.path("bypass"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("bypass") + "[" + i + "]";
                String cidr = yaml.string(items.get(i), itemPath);
                if (cidr != null
                        && yaml.probe(items.get(i), itemPath, () -> MaintenanceMode.builder()
                                .bypass(List.of(cidr))
                                .build())) {
                    bypass.add(cidr);
                }
            }
        }
        var settings = new MaintenanceSettings(
                enabled,
                file,
                page,
                contentType,
                retryAfter == null ? defaults.retryAfter() : retryAfter,
                bypass,
                respond);
        try {
            settings.newMode();
        } catch (IllegalArgumentException e) {
            yaml.builderError(f, e);
        }
        return settings;
    }

    private static String contentTypeOf(Path page) {
        String name = page.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".html") || name.endsWith(".htm")) {
            return "text/html; charset=utf-8";
        }
        if (name.endsWith(".json")) {
            return "application/json";
        }
        return "text/plain; charset=utf-8";
    }
}
