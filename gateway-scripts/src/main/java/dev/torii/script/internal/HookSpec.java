package dev.torii.script.internal;

import dev.torii.Phase;
import dev.torii.script.Plugin;
import org.graalvm.polyglot.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the runtime needs to call one attached plugin: its identity in per-context tables, its cached module source
 * and its validated config as JSON. Immutable; thread-safe.
 *
 * @param id dense index into each context's table of bound hooks
 * @param plugin the plugin
 * @param source the module source, shared by every context so that the engine parses it once
 * @param configJson the validated config, defaults applied
 * @param logger where {@code torii.log} and {@code console.log} of this plugin go
 */
public record HookSpec(int id, Plugin plugin, Source source, String configJson, Logger logger) {
    /** A spec; the logger is {@code torii.plugin.NAME}. */
    public static HookSpec of(int id, Plugin plugin, Source source, String configJson) {
        return new HookSpec(id, plugin, source, configJson, LoggerFactory.getLogger("torii.plugin." + plugin.name()));
    }

    /** The exported function name of {@code phase}. */
    public static String functionName(Phase phase) {
        return switch (phase) {
            case REQUEST -> "onRequest";
            case UPSTREAM -> "onUpstream";
            case RESPONSE -> "onResponse";
            case LOG -> "onLog";
            case CONNECT -> "onConnect";
        };
    }
}
