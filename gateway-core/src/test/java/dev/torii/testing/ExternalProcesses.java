package dev.torii.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
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

    /** Starts a fixture's server process on {@code port}. */
    @FunctionalInterface
    interface Launch {
        Process start(int port) throws IOException;
    }

    /** Waits until the process answers on {@code port}; {@code false} when it exited or did not in time. */
    @FunctionalInterface
    interface Ready {
        boolean await(Process process, int port) throws InterruptedException;
    }

    /** The fixture object around a running process. */
    @FunctionalInterface
    interface Running<T> {
        T of(Process process, int port);
    }

    /**
     * Starts a server on a free port, three attempts (another process may take the port between choosing and
     * binding it); on failure deletes {@code dir} and throws with the server's log.
     */
    static <T> T startOnFreePort(
            String name,
            Path dir,
            IntSupplier freePort,
            Launch launch,
            Ready ready,
            Running<T> running,
            Supplier<String> log) {
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort.getAsInt();
            try {
                Process p = launch.start(port);
                if (ready.await(p, port)) {
                    return running.of(p, port);
                }
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                last = new IOException(name + " exited or did not answer (port " + port + " taken?): " + log.get());
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        deleteQuietly(dir);
        throw new IllegalStateException(name + " did not start", last);
    }

    /** A TCP port free on 127.0.0.1 at the time of asking. */
    static int freeTcpPort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
