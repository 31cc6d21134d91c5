package dev.torii.server.internal;

import dev.torii.Listener;
import dev.torii.server.config.AdminSettings;
import dev.torii.server.internal.YamlReader.Fields;
import java.util.List;
import java.util.Optional;
import org.snakeyaml.engine.v2.nodes.Node;

/** The {@code admin} section: where the admin API listens, apart from every listener. Not thread-safe. */
final class AdminReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("admin");

    private static final List<String> ADMIN_KEYS = List.of("address", "token");

    private final ConfigDraft draft;
    private final YamlReader yaml;

    AdminReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.admin = readAdmin(top.value("admin"));
    }

    private Optional<AdminSettings> readAdmin(Node node) {
        if (node == null) {
            return Optional.empty();
        }
        Fields f = yaml.fields(node, "admin", ADMIN_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        draft.observability.readAdminToken(f.value("token"));
        String address = yaml.requiredString(f, "address");
        if (address == null) {
            return Optional.empty();
        }
        Listener parsed;
        try {
            parsed = Listener.http("admin", address);
        } catch (IllegalArgumentException e) {
            yaml.error(
                    f.value("address"),
                    f.path("address") + ": '" + address + "' (expected: host:port, e.g. 127.0.0.1:9901)");
            return Optional.empty();
        }
        // Checked against every listener, even one with other problems, so that this clash shows in the same run.
        ConfigDraft.Claim claim = draft.claimOf(parsed.host(), parsed.port());
        if (claim != null) {
            yaml.error(
                    f.value("address"),
                    f.path("address") + ": '" + address + "' (expected: an address no listener uses; listener '"
                            + claim.name() + "' is there)");
            return Optional.empty();
        }
        return Optional.of(new AdminSettings(parsed.host(), parsed.port()));
    }
}
