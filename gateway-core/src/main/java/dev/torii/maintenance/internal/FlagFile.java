package dev.torii.maintenance.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The flag-file source of the maintenance switch: maintenance is on while the file exists (a deploy script's
 * {@code touch maintenance.on}). Its state is what the last {@link #check()} saw; the switch's poll thread checks it
 * every interval, and a reload may move it ({@link #moveTo}). Thread-safe: the checks are serialized by the switch.
 */
public final class FlagFile {
    private static final Logger log = LoggerFactory.getLogger(FlagFile.class);

    private volatile Path path;
    private volatile boolean on;

    /** The source of {@code path}, or of no file ({@code null}: its part is always off). Not checked yet. */
    public FlagFile(Path path) {
        this.path = path;
    }

    /** The flag file, or {@code null} without one. */
    public Path path() {
        return path;
    }

    /** Whether the file existed at the last check ({@code false} without a file). */
    public boolean on() {
        return on;
    }

    /**
     * Checks whether the file exists now; without one (a reload removed it) the file's part is off. Logs a change.
     *
     * @return whether the state changed
     */
    public boolean check() {
        Path f = path;
        boolean exists = f != null && Files.exists(f);
        if (exists == on) {
            return false;
        }
        on = exists;
        log.info(
                "maintenance {} (source: file {} {})",
                exists ? "on" : "off",
                f == null ? "" : f,
                exists ? "appeared" : f == null ? "no longer configured" : "gone");
        return true;
    }

    /**
     * Watches {@code next} (or no file) from now on, when it differs from the current one (logged); the caller checks
     * it then.
     *
     * @return whether the file moved
     */
    public boolean moveTo(Path next) {
        Path before = path;
        if (java.util.Objects.equals(before, next)) {
            return false;
        }
        log.info("maintenance flag file: {} (was {})", next == null ? "none" : next, before == null ? "none" : before);
        path = next;
        return true;
    }
}
