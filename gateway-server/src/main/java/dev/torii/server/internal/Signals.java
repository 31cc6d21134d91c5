package dev.torii.server.internal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * POSIX signal handlers of the standalone server, through {@code sun.misc.Signal} (module {@code jdk.unsupported}; the
 * JDK has no supported API for them). Handlers run on a JVM thread of their own, never on an event loop.
 */
public final class Signals {
    private static final Logger log = LoggerFactory.getLogger(Signals.class);

    private Signals() {}

    /** Runs {@code action} on each SIGUSR1 (logrotate's "reopen your files"); logs and goes on where unsupported. */
    static void onUsr1(Runnable action) {
        try {
            Signal.handle(new Signal("USR1"), s -> action.run());
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            log.warn("SIGUSR1 cannot be handled here ({}); the access log is not reopened on signal", e.getMessage());
        }
    }

    /**
     * Runs {@code action} on each SIGHUP (what nginx users and logrotate send to mean "reload") instead of the JVM's
     * default, which shuts the process down. Logs and goes on where unsupported. The action runs on the JVM's signal
     * thread and must not throw; one that does is logged, and the process keeps running.
     */
    public static void onHup(Runnable action) {
        try {
            Signal.handle(new Signal("HUP"), s -> {
                try {
                    action.run();
                } catch (RuntimeException e) {
                    log.error("SIGHUP: reload failed", e);
                }
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            log.warn("SIGHUP cannot be handled here ({}); reload through the admin API's POST /reload", e.getMessage());
        }
    }
}
