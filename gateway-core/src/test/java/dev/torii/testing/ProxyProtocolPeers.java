package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real PROXY protocol peers on free 127.0.0.1 ports, each run in the foreground from a generated configuration in a
 * temporary directory and stopped by its process id: {@link Haproxy}, a TCP load balancer that sends a PROXY v2 header
 * to the server behind it, and {@link Nginx}, an HTTP server listening with {@code proxy_protocol} that answers and
 * logs {@code $proxy_protocol_addr}. Thread-safe after construction.
 */
public final class ProxyProtocolPeers {
    private ProxyProtocolPeers() {}

    /** HAProxy in {@code mode tcp} on a free port, forwarding to {@code backend} with {@code send-proxy-v2}. */
    public static final class Haproxy implements AutoCloseable {
        private final Path dir;
        private final Process process;
        private final int port;

        private Haproxy(Path dir, Process process, int port) {
            this.dir = dir;
            this.process = process;
            this.port = port;
        }

        /** Starts HAProxy sending PROXY v2 to {@code backendHostPort} and returns once its port accepts. */
        public static Haproxy start(String backendHostPort) {
            String haproxy = ExternalProcesses.find("haproxy", "haproxy", "PROXY protocol tests");
            Path dir = tempDir("torii-haproxy-");
            return ExternalProcesses.startOnFreePort(
                    "haproxy",
                    dir,
                    ExternalProcesses::freeTcpPort,
                    port -> {
                        Path conf = dir.resolve("haproxy.cfg");
                        Files.writeString(
                                conf,
                                String.join(
                                        "\n",
                                        List.of(
                                                "global",
                                                "  maxconn 200",
                                                "defaults",
                                                "  mode tcp",
                                                "  timeout connect 5s",
                                                "  timeout client 30s",
                                                "  timeout server 30s",
                                                "frontend fe",
                                                "  bind 127.0.0.1:" + port,
                                                "  default_backend be",
                                                "backend be",
                                                "  server torii " + backendHostPort + " send-proxy-v2",
                                                "")));
                        return new ProcessBuilder(haproxy, "-db", "-f", conf.toString())
                                .redirectErrorStream(true)
                                .redirectOutput(dir.resolve("haproxy.log").toFile())
                                .start();
                    },
                    ProxyProtocolPeers::awaitPort,
                    (p, port) -> new Haproxy(dir, p, port),
                    () -> read(dir.resolve("haproxy.log")));
        }

        /** The port HAProxy listens on (127.0.0.1). */
        public int port() {
            return port;
        }

        @Override
        public void close() {
            ExternalProcesses.stop(process);
            ExternalProcesses.deleteQuietly(dir);
        }
    }

    /**
     * nginx with {@code listen ... proxy_protocol}: every request is answered {@code 200} with the body
     * {@code $proxy_protocol_addr\n}, and logged as {@code $proxy_protocol_addr $remote_addr}.
     */
    public static final class Nginx implements AutoCloseable {
        private final Path dir;
        private final Process process;
        private final int port;

        private Nginx(Path dir, Process process, int port) {
            this.dir = dir;
            this.process = process;
            this.port = port;
        }

        /** Starts nginx and returns once its port accepts connections. */
        public static Nginx start() {
            String nginx = ExternalProcesses.find("nginx", "nginx-light", "PROXY protocol tests");
            Path dir = tempDir("torii-nginx-pp-");
            return ExternalProcesses.startOnFreePort(
                    "nginx",
                    dir,
                    ExternalProcesses::freeTcpPort,
                    port -> {
                        Path conf = dir.resolve("nginx.conf");
                        Files.writeString(conf, """
                                daemon off;
                                worker_processes 1;
                                pid %1$s/nginx.pid;
                                error_log %1$s/error.log notice;
                                events { worker_connections 256; }
                                http {
                                    client_body_temp_path %1$s/client_body;
                                    proxy_temp_path %1$s/proxy;
                                    fastcgi_temp_path %1$s/fastcgi;
                                    uwsgi_temp_path %1$s/uwsgi;
                                    scgi_temp_path %1$s/scgi;
                                    log_format pp '$proxy_protocol_addr $remote_addr';
                                    access_log %1$s/access.log pp;
                                    server {
                                        listen 127.0.0.1:%2$d proxy_protocol;
                                        location / { return 200 "$proxy_protocol_addr\\n"; }
                                    }
                                }
                                """.formatted(dir, port));
                        return new ProcessBuilder(
                                        nginx, "-p", dir.toString(), "-c", conf.toString(), "-e", dir + "/error.log")
                                .redirectErrorStream(true)
                                .redirectOutput(dir.resolve("stdout.log").toFile())
                                .start();
                    },
                    ProxyProtocolPeers::awaitPort,
                    (p, port) -> new Nginx(dir, p, port),
                    () -> read(dir.resolve("error.log")));
        }

        /** {@code 127.0.0.1:<port>}, as an upstream endpoint. */
        public String hostPort() {
            return "127.0.0.1:" + port;
        }

        /** The access log's lines so far ({@code $proxy_protocol_addr $remote_addr}). */
        public List<String> accessLog() {
            String log = read(dir.resolve("access.log"));
            return log.isEmpty() ? List.of() : log.lines().toList();
        }

        @Override
        public void close() {
            ExternalProcesses.stop(process);
            ExternalProcesses.deleteQuietly(dir);
        }
    }

    private static Path tempDir(String prefix) {
        try {
            Path dir = Files.createTempDirectory(prefix);
            // When the tests run as root, nginx's worker runs as nobody and must write its log there.
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean awaitPort(Process p, int port) throws InterruptedException {
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

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }
}
