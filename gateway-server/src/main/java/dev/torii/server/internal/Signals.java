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

    /**
     * Makes SIGTERM exit the process with status 0 once the shutdown hooks (the graceful drain) returned, instead of
     * the JVM's 143: a drain that completed is a clean stop, and Kubernetes, systemd and supervisors read any other
     * status as a failure. Logs and goes on where unsupported (the JVM's default then applies).
     */
    public static void exitZeroOnTerm() {
        try {
            // System.exit runs the shutdown hooks on this (the signal's) thread's behalf and returns only by halting.
            Signal.handle(new Signal("TERM"), s -> System.exit(0));
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            log.warn("SIGTERM cannot be handled here ({}); the process exits with the JVM's status", e.getMessage());
        }
    }
}
