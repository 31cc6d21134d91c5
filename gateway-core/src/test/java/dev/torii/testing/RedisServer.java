package dev.torii.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real redis-server on a free 127.0.0.1 port: no persistence, no daemonizing, its log in a temporary directory.
 * {@link #close()} stops it by its process id and deletes the directory. {@link #cli} runs the real redis-cli
 * against any address (the server itself, or a proxy in front of it).
 *
 * <p>redis-server and redis-cli (Debian package redis-server) are looked up on the {@code PATH} and then in
 * {@code /usr/sbin}; if missing, {@link #start()} fails with a message saying to install them. Tests never skip for
 * want of them. Thread-safe after construction.
 */
public final class RedisServer implements AutoCloseable {
    private final Path dir;
    private final Process process;
    private final int port;

    private RedisServer(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** Starts redis-server and returns once it answers PING. */
    public static RedisServer start() {
        return start(ExternalProcesses::freeTcpPort);
    }

    /** Starts redis-server on {@code port} (e.g. the port of one that was {@link #stop() stopped}: a restart). */
    public static RedisServer startOnPort(int port) {
        return start(() -> port);
    }

    /** The port redis-server listens on. */
    public int port() {
        return port;
    }

    /**
     * Stops this server (if running) and starts a new, empty one on the same port: for tests of what clients do
     * while Redis is away and when it comes back. Close the returned server (this one's directory is deleted now).
     */
    public RedisServer restart() {
        close();
        return start(() -> port);
    }

    private static RedisServer start(java.util.function.IntSupplier ports) {
        String redis = ExternalProcesses.find("redis-server", "redis-server", "Redis end-to-end tests");
        Path dir;
        try {
            dir = Files.createTempDirectory("torii-redis-");
        } catch (IOException e) {
            throw new UncheckedIOException("preparing redis's directory", e);
        }
        return ExternalProcesses.startOnFreePort(
                "redis-server",
                dir,
                ports,
                port -> new ProcessBuilder(
                                redis,
                                "--port",
                                String.valueOf(port),
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--daemonize",
                                "no",
                                "--protected-mode",
                                "no",
                                "--dir",
                                dir.toString(),
                                "--logfile",
                                dir.resolve("redis.log").toString())
                        .redirectErrorStream(true)
                        .redirectOutput(dir.resolve("redis.out").toFile())
                        .start(),
                RedisServer::awaitPong,
                (p, port) -> new RedisServer(dir, p, port),
                () -> log(dir));
    }

    /** {@code 127.0.0.1:<port>}. */
    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /** {@code 127.0.0.1:<port>} as text, for endpoint lists. */
    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    /** The server's log so far, for failure messages. */
    public String log() {
        return log(dir);
    }

    /** Stops redis-server (SIGTERM, then SIGKILL after 10 s) by its process id. */
    public void stop() {
        ExternalProcesses.stop(process);
    }

    @Override
    public void close() {
        stop();
        ExternalProcesses.deleteQuietly(dir);
    }

    /** The result of one redis-cli run. */
    public record CliResult(int exitCode, byte[] stdout) {
        /** Standard output as UTF-8, trailing newline removed. */
        public String text() {
            String s = new String(stdout, StandardCharsets.UTF_8);
            return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
        }
    }

    /**
     * Runs redis-cli against {@code address} with {@code args} (e.g. {@code "SET", "k", "v"}), feeding it
     * {@code stdin} (for {@code -x}) when not null; waits up to 60 s. Output is raw (not a terminal).
     */
    public static CliResult cli(InetSocketAddress address, byte[] stdin, String... args) {
        String cli = ExternalProcesses.find("redis-cli", "redis-server", "Redis end-to-end tests");
        List<String> command = new ArrayList<>(
                List.of(cli, "-h", address.getAddress().getHostAddress(), "-p", String.valueOf(address.getPort())));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            Thread feeder = Thread.ofVirtual().start(() -> {
                try (OutputStream in = p.getOutputStream()) {
                    if (stdin != null) {
                        in.write(stdin);
                    }
                } catch (IOException ignored) {
                    // redis-cli exited early; its output says why
                }
            });
            var out = new ByteArrayOutputStream();
            Thread reader = Thread.ofVirtual().start(() -> {
                try (InputStream o = p.getInputStream()) {
                    o.transferTo(out);
                } catch (IOException ignored) {
                    // process gone
                }
            });
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("redis-cli " + String.join(" ", args) + " did not finish in 60 s");
            }
            feeder.join();
            reader.join();
            return new CliResult(p.exitValue(), out.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("running redis-cli", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static boolean awaitPong(Process p, int port) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                return false;
            }
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                s.setSoTimeout(1000);
                s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
                byte[] b = s.getInputStream().readNBytes(7);
                if (new String(b, StandardCharsets.US_ASCII).equals("+PONG\r\n")) {
                    return true;
                }
            } catch (IOException e) {
                // not yet listening
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return false;
    }

    private static String log(Path dir) {
        try {
            return Files.readString(dir.resolve("redis.out")) + Files.readString(dir.resolve("redis.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
