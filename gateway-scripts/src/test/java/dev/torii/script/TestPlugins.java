package dev.torii.script;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Writes throwaway plugin directories for tests, and finds the repository's example plugins. */
final class TestPlugins {
    private TestPlugins() {}

    /** A plugin named {@code name} with {@code script} and a config schema ({@code null}: none). */
    static Path write(Path root, String name, String script, String configSchema) {
        Path dir = root.resolve(name);
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("plugin.js"), script);
            Files.writeString(
                    dir.resolve("plugin.json"),
                    "{ \"name\": \"" + name + "\", \"version\": \"0.0.1\", \"description\": \"test\""
                            + (configSchema == null ? "" : ", \"config\": " + configSchema) + " }\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** A tester for {@code script} with no config schema. */
    static ScriptTester tester(Path root, String script) {
        return ScriptTester.of(write(root, "test", script, null), Map.of());
    }

    /** {@code examples/plugins/NAME} of the repository (found by walking up to the directory holding mvnw). */
    static Path example(String name) {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no mvnw above " + Path.of("").toAbsolutePath());
        }
        return p.resolve("examples/plugins").resolve(name);
    }
}
