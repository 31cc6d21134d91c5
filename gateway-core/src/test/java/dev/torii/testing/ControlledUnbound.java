package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real unbound on a free 127.0.0.1 port whose local data a test changes while it runs, through {@code
 * unbound-control} over a Unix socket in the fixture's temporary directory (no certificates, nothing on the network):
 * the way an operator moves a name from one backend to another. An {@link UnboundServer} (same start-up, same
 * iterator-only configuration, stopped by its process id on {@link #close()}) with its control socket on. Thread-safe
 * after construction (each change is one {@code unbound-control} process).
 */
public final class ControlledUnbound implements AutoCloseable {
    private final UnboundServer server;

    private ControlledUnbound(UnboundServer server) {
        this.server = server;
    }

    /** Starts unbound with these {@code server:} lines and returns once it answers a query. */
    public static ControlledUnbound start(List<String> serverLines) {
        return new ControlledUnbound(UnboundServer.start(serverLines, true));
    }

    /** {@code 127.0.0.1:<port>}, for UDP and TCP. */
    public InetSocketAddress address() {
        return server.address();
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
                new ArrayList<>(List.of(tool, "-c", server.configFile().toString()));
        argv.addAll(List.of(command));
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.startsWith("ok")) {
                throw new IllegalStateException(argv + " failed: " + out + "\n" + server.log());
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
        server.close();
    }
}
