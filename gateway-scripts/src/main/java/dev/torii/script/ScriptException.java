package dev.torii.script;

/**
 * A plugin's phase function failed for one exchange: it threw, ran past its statement budget or its deadline, or
 * returned something that is not a decision. The engine answers that exchange with
 * {@link dev.torii.ProxyError#HOOK_FAILED} and logs this exception once; its message starts with the plugin and the
 * function and names the place in the script as {@code FILE:LINE:COLUMN}. Immutable.
 */
public final class ScriptException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why the call failed. */
    public enum Kind {
        /** The script threw, or called an API function wrongly (wrong phase, bad argument). */
        THREW,
        /** The call ran past its wall-clock deadline and was interrupted. */
        TIMED_OUT,
        /** The call ran past its statement limit; its context was discarded and will be replaced. */
        BUDGET_EXCEEDED,
        /** The function returned something other than nothing or the value of {@code ex.respond}/{@code ex.redirect}. */
        INVALID_RESULT
    }

    private final Kind kind;
    private final String plugin;
    private final String location;

    /**
     * A failure of {@code plugin} of {@code kind}.
     *
     * @param location {@code FILE:LINE:COLUMN} of the failing statement, or the script's name when unknown
     */
    public ScriptException(Kind kind, String plugin, String location, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.plugin = plugin;
        this.location = location;
    }

    /** Why the call failed. */
    public Kind kind() {
        return kind;
    }

    /** The plugin's name. */
    public String plugin() {
        return plugin;
    }

    /** {@code FILE:LINE:COLUMN} of the failing statement, or the script's name when the place is unknown. */
    public String location() {
        return location;
    }

    /** The message alone: the engine logs {@code toString()}, and the class name adds nothing there. */
    @Override
    public String toString() {
        return getMessage();
    }
}
