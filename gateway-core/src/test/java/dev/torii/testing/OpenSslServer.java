package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A real TLS server, {@code openssl s_server -WWW}, on a free 127.0.0.1 port: it serves the files of its own temporary
 * directory over HTTPS with one certificate; {@code /id.txt} holds the identity given at start, so a client can tell
 * which server its TLS session reached. Stopped by its process id on {@link #close()}. Thread-safe after construction.
 */
public final class OpenSslServer implements AutoCloseable {
    private final Path dir;
    private final Process process;
    private final int port;

    private OpenSslServer(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** Starts {@code openssl s_server} with {@code cert} serving {@code /id.txt} = {@code id + "\n"}. */
    public static OpenSslServer start(String id, TestCertificates.Issued cert) {
        String openssl = ExternalProcesses.find("openssl", "openssl", "TLS passthrough tests");
        Path dir;
        try {
            dir = Files.createTempDirectory("torii-s_server-");
            Files.writeString(dir.resolve("id.txt"), id + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("preparing s_server's directory", e);
        }
        return ExternalProcesses.startOnFreePort(
                "openssl s_server",
                dir,
                ExternalProcesses::freeTcpPort,
                port -> new ProcessBuilder(
                                openssl,
                                "s_server",
                                "-accept",
                                "127.0.0.1:" + port,
                                "-cert",
                                cert.cert().toString(),
                                "-key",
                                cert.key().toString(),
                                "-WWW",
                                "-quiet")
                        .directory(dir.toFile())
                        .redirectErrorStream(true)
                        .redirectOutput(dir.resolve("s_server.log").toFile())
                        .start(),
                OpenSslServer::awaitListening,
                (p, port) -> new OpenSslServer(dir, p, port),
                () -> log(dir));
    }

    /** {@code 127.0.0.1:<port>}, as an upstream endpoint. */
    public String hostPort() {
        return "127.0.0.1:" + port;
    }

    @Override
    public void close() {
        ExternalProcesses.stop(process);
        ExternalProcesses.deleteQuietly(dir);
    }

    private static boolean awaitListening(Process p, int port) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                return false;
            }
            try (Socket _ = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return true;
            } catch (IOException e) {
                TimeUnit.MILLISECONDS.sleep(20);
            }
        }
        return false;
    }

    private static String log(Path dir) {
        try {
            return Files.readString(dir.resolve("s_server.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
