package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * A real unbound on a free 127.0.0.1 port whose local data a test changes while it runs, through {@code
 * unbound-control} over a Unix socket in the fixture's temporary directory (no certificates, nothing on the network):
 * the way an operator moves a name from one backend to another. Like {@link UnboundServer} it runs in the foreground
 * with the iterator module only (never recursing to the internet) and is stopped by its process id on
 * {@link #close()}. Thread-safe after construction (each change is one {@code unbound-control} process).
 */
public final class ControlledUnbound implements AutoCloseable {
    private final Path dir;
    private final Process process;
    private final int port;

    private ControlledUnbound(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** Starts unbound with these {@code server:} lines and returns once it answers a query. */
    public static ControlledUnbound start(List<String> serverLines) {
        String unbound = ExternalProcesses.find("unbound", "unbound", "End-to-end DNS tests");
        Path dir;
        try {
            dir = Files.createTempDirectory("torii-unbound-ctl-");
        } catch (IOException e) {
            throw new UncheckedIOException("preparing unbound's directory", e);
        }
        return ExternalProcesses.startOnFreePort(
                "unbound",
                dir,
                ControlledUnbound::freePort,
                port -> {
                    Files.writeString(dir.resolve("unbound.conf"), config(dir, port, serverLines));
                    return new ProcessBuilder(
                                    unbound,
                                    "-d",
                                    "-c",
                                    dir.resolve("unbound.conf").toString())
                            .redirectErrorStream(true)
                            .redirectOutput(dir.resolve("unbound.log").toFile())
                            .start();
                },
                ControlledUnbound::awaitAnswer,
                (p, port) -> new ControlledUnbound(dir, p, port),
                () -> read(dir.resolve("unbound.log")));
    }

    /** {@code 127.0.0.1:<port>}, for UDP and TCP. */
    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /** Replaces the records of {@code name} with {@code records} (each a {@code local-data} RR line). */
    public void replace(String name, String... records) {
        control("local_data_remove", name);
        for (String rr : records) {
            control("local_data", rr);
        }
    }

    private void control(String... command) {
        String tool = ExternalProcesses.find("unbound-control", "unbound", "End-to-end DNS tests");
        List<String> argv =
                new ArrayList<>(List.of(tool, "-c", dir.resolve("unbound.conf").toString()));
        argv.addAll(List.of(command));
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.startsWith("ok")) {
                throw new IllegalStateException(argv + " failed: " + out + "\n" + read(dir.resolve("unbound.log")));
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
        ExternalProcesses.stop(process);
        ExternalProcesses.deleteQuietly(dir);
    }

    private static String config(Path dir, int port, List<String> serverLines) {
        StringBuilder b = new StringBuilder("server:\n");
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
        b.append("remote-control:\n  control-enable: yes\n  control-interface: \"")
                .append(dir.resolve("control.sock"))
                .append("\"\n");
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
                probe.send(query);
                return true;
            } catch (IOException e) {
                // not yet listening
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return false;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static int freePort() {
        for (int i = 0; i < 20; i++) {
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                int port = s.getLocalPort();
                try (DatagramSocket _ =
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
