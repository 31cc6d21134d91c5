package dev.torii.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** What the fixtures that run real servers (nginx, unbound) share: finding the binary, stopping by PID, cleaning up. */
final class ExternalProcesses {
    private ExternalProcesses() {}

    /**
     * The first executable {@code name} on PATH, else {@code /usr/sbin/<name>}; fails (never skips) with a message
     * saying which Debian package to install.
     */
    static String find(String name, String debianPackage, String usedFor) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(
                        Stream.of(path.split(File.pathSeparator))
                                .filter(s -> !s.isBlank())
                                .map(s -> Path.of(s, name)),
                        Stream.of(Path.of("/usr/sbin", name)))
                .filter(Files::isExecutable)
                .findFirst()
                .map(Path::toString)
                .orElseThrow(() -> new IllegalStateException(name
                        + " is not installed (looked on PATH and at /usr/sbin/"
                        + name + "): install it, e.g. `apt-get install " + debianPackage + "`; .ci/run installs it on"
                        + " CI. " + usedFor + " need a real " + name + " and do not skip."));
    }

    /** SIGTERM to {@code process} (by its PID), SIGKILL after 10 s. */
    static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Deletes a fixture's temporary directory; one left behind is harmless. */
    static void deleteQuietly(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }
}
