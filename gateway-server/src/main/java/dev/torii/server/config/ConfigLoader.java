package dev.torii.server.config;

import dev.torii.script.ScriptRuntime;
import dev.torii.server.internal.ConfigReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reads a standalone-server configuration ({@code torii.yaml}) and validates all of it.
 *
 * <p>Every problem is reported, not just the first, each as a {@link ConfigError} located at the offending value:
 * {@code torii.yaml:12:18: upstreams.app.loadBalancer: 'fastest' (expected one of: round-robin, least-in-flight)}.
 * The accepted keys are described in {@code docs/configuration.md}.
 *
 * <p>Plugins the file attaches are loaded from their directories (each module evaluated once, in a JavaScript engine
 * started for this and closed again) and each plugin's {@code config} is checked against its schema; a problem in a
 * plugin's own files is reported in that file, as {@code plugins/NAME/plugin.js:LINE:COLUMN: message}.
 *
 * <p>Thread-safe: every call reads independently.
 */
public final class ConfigLoader {
    private ConfigLoader() {}

    /**
     * Reads and validates {@code file} (UTF-8). Errors name the file as {@code file.toString()}, i.e. as given.
     *
     * @throws ConfigException when the file cannot be read or holds any problem
     */
    public static ServerConfig load(Path file) throws ConfigException {
        return load(file, null);
    }

    /**
     * {@link #load(Path)} loading the file's plugins with the JavaScript runtime {@code scripts} supplies (asked for
     * on the first plugin, never closed here), so that {@code torii run} serves the plugins with the engine that
     * checked them instead of starting a second one.
     *
     * @param scripts null: a quiet runtime of the loader's own, closed before this returns
     * @throws ConfigException when the file cannot be read or holds any problem
     */
    public static ServerConfig load(Path file, Supplier<ScriptRuntime> scripts) throws ConfigException {
        String source = file.toString();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(new ConfigError(source, 0, 0, "cannot read: no such file")));
        } catch (CharacterCodingException e) {
            throw new ConfigException(List.of(new ConfigError(source, 0, 0, "cannot read: not UTF-8 text")));
        } catch (IOException e) {
            throw new ConfigException(List.of(new ConfigError(source, 0, 0, "cannot read: " + e)));
        }
        return ConfigReader.read(source, text, file.getParent(), scripts);
    }

    /**
     * Validates configuration {@code yaml}; errors name it {@code source}. A relative plugin directory is relative to
     * the working directory.
     *
     * @throws ConfigException when it holds any problem
     */
    public static ServerConfig parse(String source, String yaml) throws ConfigException {
        return ConfigReader.read(source, yaml);
    }
}
