package dev.torii.server.internal;

import dev.torii.server.config.ReloadSettings;
import dev.torii.server.internal.YamlReader.Fields;
import java.time.Duration;
import java.util.List;
import org.snakeyaml.engine.v2.nodes.Node;

/** The {@code reload} section: watching the configuration file. Not thread-safe. */
final class ReloadReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("reload");

    private static final List<String> RELOAD_KEYS = List.of("watch", "debounce");

    private final ConfigDraft draft;
    private final YamlReader yaml;

    ReloadReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        Node node = top.value("reload");
        if (node == null) {
            return;
        }
        Fields f = yaml.fields(node, "reload", RELOAD_KEYS, List.of());
        if (f == null) {
            return;
        }
        Boolean watch = f.value("watch") == null ? null : yaml.bool(f.value("watch"), f.path("watch"));
        Duration debounce =
                f.value("debounce") == null ? null : yaml.duration(f.value("debounce"), f.path("debounce"), false);
        draft.reload = new ReloadSettings(
                watch != null ? watch : ReloadSettings.DEFAULTS.watch(),
                debounce != null ? debounce : ReloadSettings.DEFAULTS.debounce());
    }
}
