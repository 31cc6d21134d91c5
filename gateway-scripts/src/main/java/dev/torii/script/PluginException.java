package dev.torii.script;

/**
 * A plugin could not be loaded or configured: its manifest or script is missing or malformed, its script does not
 * compile, or a configuration does not match its schema. The message names the file (with {@code :LINE:COLUMN} when
 * known) or the plugin, the value, and what was expected; several problems are listed one per line.
 */
public final class PluginException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A problem described by {@code message}. */
    public PluginException(String message) {
        super(message);
    }

    /** A problem described by {@code message}, caused by {@code cause}. */
    public PluginException(String message, Throwable cause) {
        super(message, cause);
    }
}
