package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * A real unbound on a free 127.0.0.1 port (UDP and TCP), answering from local zones given as unbound.conf
 * {@code server:} lines ({@code local-zone:}, {@code local-data:}). It runs in the foreground ({@code -d}) from a
 * generated configuration in a temporary directory that holds its pid file; no chroot, no user switch, no remote
 * control, iterator module only, so it never recurses to the internet. {@link #close()} stops it by its process id and
 * deletes the directory.
 *
 * <p>unbound is looked up on the {@code PATH} and then at {@code /usr/sbin/unbound}; if it is missing, {@link #start}
 * fails with a message saying to install it. Tests never skip for want of it. Thread-safe after construction.
 */
public final class UnboundServer implements AutoCloseable {
    private final Path dir;
    private final Process process;
    private final int port;

    private UnboundServer(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** Starts unbound with these {@code server:} lines and returns once it answers a query. */
    public static UnboundServer start(List<String> serverLines) {
        return start(serverLines, false);
    }

    /**
     * Starts unbound; with {@code controlSocket}, {@code unbound-control} reaches it over a Unix socket in its directory
     * ({@link ControlledUnbound}), else remote control is off.
     */
    static UnboundServer start(List<String> serverLines, boolean controlSocket) {
        String unbound = ExternalProcesses.find("unbound", "unbound", "End-to-end DNS tests");
        Path dir;
        try {
            dir = Files.createTempDirectory("torii-unbound-");
        } catch (IOException e) {
            throw new UncheckedIOException("preparing unbound's directory", e);
        }
        return ExternalProcesses.startOnFreePort(
                "unbound",
                dir,
                UnboundServer::freePort,
                port -> {
                    Path conf = dir.resolve("unbound.conf");
                    Files.writeString(conf, config(dir, port, serverLines, controlSocket));
                    return new ProcessBuilder(unbound, "-d", "-c", conf.toString())
                            .redirectErrorStream(true)
                            .redirectOutput(dir.resolve("unbound.log").toFile())
                            .start();
                },
                UnboundServer::awaitAnswer,
                (p, port) -> new UnboundServer(dir, p, port),
                () -> log(dir));
    }

    /** {@code 127.0.0.1:<port>}, for UDP and TCP. */
    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /** The generated configuration file, for {@code unbound-control -c}. */
    Path configFile() {
        return dir.resolve("unbound.conf");
    }

    /** unbound's log so far, for failure messages. */
    public String log() {
        return log(dir);
    }

    /** Stops unbound (SIGTERM, then SIGKILL after 10 s) by its process id; the directory stays until {@link #close()}. */
    public void stop() {
        ExternalProcesses.stop(process);
    }

    /**
     * Pauses unbound with SIGSTOP: its sockets stay open and accept queries, but nothing is answered, as a congested
     * cluster DNS behaves (a stopped server would refuse instead). {@link #resume()} undoes it; {@link #stop()} works on
     * a paused unbound too.
     */
    public void pause() {
        signal("STOP");
    }

    /** Resumes unbound after {@link #pause()} (SIGCONT). */
    public void resume() {
        signal("CONT");
    }

    private void signal(String name) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, String.valueOf(process.pid()))
                    .redirectErrorStream(true)
                    .start();
            String out = new String(kill.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed: " + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        stop();
        ExternalProcesses.deleteQuietly(dir);
    }

    private static String config(Path dir, int port, List<String> serverLines, boolean controlSocket) {
        StringBuilder b = new StringBuilder();
        b.append("server:\n");
        for (String line : List.of(
                "interface: 127.0.0.1@" + port,
                "do-daemonize: no",
                "chroot: \"\"",
                "username: \"\"",
                "directory: \"" + dir + "\"",
                "pidfile: \"" + dir.resolve("unbound.pid") + "\"",
                "use-syslog: no",
                "logfile: \"\"",
                "verbosity: 1",
                "num-threads: 1",
                "do-ip6: no",
                "access-control: 127.0.0.0/8 allow",
                "module-config: \"iterator\"")) {
            b.append("  ").append(line).append('\n');
        }
        for (String line : serverLines) {
            b.append("  ").append(line).append('\n');
        }
        if (controlSocket) {
            b.append("remote-control:\n  control-enable: yes\n  control-interface: \"")
                    .append(dir.resolve("control.sock"))
                    .append("\"\n");
        } else {
            b.append("remote-control:\n  control-enable: no\n");
        }
        return b.toString();
    }

    private static boolean awaitAnswer(Process p, int port) throws InterruptedException {
        SimpleResolver probe = new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        probe.setTimeout(Duration.ofMillis(200));
        Message query = Message.newQuery(Record.newRecord(Name.root, Type.NS, DClass.IN));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                return false;
            }
            try {
                probe.send(query); // any answer (REFUSED, SERVFAIL) means it is serving
                return true;
            } catch (IOException e) {
                // not yet listening
            }
            // The probe's own 200 ms timeout paces this loop; a refused UDP port fails at once, so pause a little.
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return false;
    }

    private static String log(Path dir) {
        try {
            return Files.readString(dir.resolve("unbound.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** A port free for both TCP and UDP on 127.0.0.1 at the time of asking. */
    @SuppressWarnings("try") // u only proves the UDP port is free too
    private static int freePort() {
        for (int i = 0; i < 20; i++) {
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                int port = s.getLocalPort();
                try (DatagramSocket u =
                        new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))) {
                    return port;
                } catch (IOException e) {
                    // UDP side taken: try another
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new IllegalStateException("no port free for both TCP and UDP on 127.0.0.1");
    }
}
