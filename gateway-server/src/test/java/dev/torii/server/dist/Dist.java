package dev.torii.server.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What the distribution tests share: where Maven left the distribution, running its {@code bin/torii} as a process,
 * and waiting for an HTTP answer. Tests run after {@code package} (surefire's distribution-tests execution).
 */
final class Dist {
    private Dist() {}

    /** The distribution directory ({@code gateway-server/target/torii}), as the pom passes it. */
    static Path directory() {
        return Path.of(System.getProperty("torii.dist", "target/torii")).toAbsolutePath();
    }

    /** The linux-x86_64 archive beside it. */
    static Path archive() {
        Path archive = Path.of(System.getProperty("torii.archive", "")).toAbsolutePath();
        assertThat(archive).as("the distribution archive (made by `package`)").isRegularFile();
        return archive;
    }

    /** A free loopback port (closed again at once; the process under test binds it). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Runs a command to its end (at most {@code timeout}); returns its exit code and its output (stdout+stderr). */
    static Result run(List<String> command, Map<String, String> env, Duration timeout) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (env != null) {
            pb.environment().clear();
            pb.environment().putAll(env);
        }
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(command + " did not end within " + timeout);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** A finished command. */
    record Result(int exitCode, String output) {}

    /** Starts a long-running command with its output in {@code log}. */
    static Process start(List<String> command, Map<String, String> env, Path log) throws IOException {
        ProcessBuilder pb =
                new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        if (env != null) {
            pb.environment().clear();
            pb.environment().putAll(env);
        }
        return pb.start();
    }

    /** Stops a process with SIGTERM (a graceful shutdown) and waits for it. */
    static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }

    /**
     * Polls {@code url} until it answers (at most 60 s, so a slow start on a busy machine still passes); fails with
     * the process's log when the process exits first.
     */
    static HttpResponse<String> awaitAnswer(HttpClient client, URI url, Process p, Path log) throws Exception {
        Instant deadline = Instant.now().plusSeconds(60);
        List<String> errors = new ArrayList<>();
        while (Instant.now().isBefore(deadline)) {
            if (!p.isAlive()) {
                throw new AssertionError("bin/torii exited with " + p.exitValue() + ":\n" + Files.readString(log));
            }
            try {
                return client.send(
                        HttpRequest.newBuilder(url)
                                .timeout(Duration.ofSeconds(5))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                errors.add(e.toString());
                // Not up yet: wait on the process, which also notices an early exit.
                p.waitFor(50, TimeUnit.MILLISECONDS);
            }
        }
        throw new AssertionError("no answer from " + url + " within 60 s; last error " + errors.getLast() + "\n"
                + Files.readString(log));
    }
}
