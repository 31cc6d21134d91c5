package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx on a free 127.0.0.1 port, as the backend of end-to-end tests. It runs in the foreground
 * ({@code daemon off}, with its master process) from a generated configuration in a temporary directory that holds its
 * pid file, error log and temp paths; there is no access log. {@link #close()} stops it by its process id and deletes
 * the directory.
 *
 * <p>Locations:
 *
 * <ul>
 *   <li>{@code /} answers {@code 200 "ok\n"}
 *   <li>{@code /16k} serves a static file of {@link #SIXTEEN_K} bytes ({@code "0123456789abcdef"} repeated)
 *   <li>{@code /echo-headers} answers {@code host=… xff=… via=… proto=… xfh=… conn=… te=… up=…} from the request headers
 *   <li>{@code /status/204}, {@code /status/304}, {@code /status/404} answer that status
 *   <li>{@code /chunked} answers a chunked body of {@link #CHUNKED_BODY_LENGTH} bytes ({@code "b"} runs and newlines)
 *       with the trailer {@code X-Trailer: t-value}
 *   <li>{@code /echo-body} reads the request body and answers its length as {@code body=<n>}
 * </ul>
 *
 * <p>nginx is looked up on the {@code PATH} and then at {@code /usr/sbin/nginx}; if it is missing, construction fails
 * with a message saying to install it. Tests never skip for want of it. Thread-safe after construction.
 */
public final class NginxBackend implements AutoCloseable {
    public static final int SIXTEEN_K = 16 * 1024;
    public static final int CHUNKED_BODY_LENGTH = 3000;

    private final Path dir;
    private final Process process;
    private final int port;

    private NginxBackend(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** Starts nginx and returns once its port accepts connections. */
    public static NginxBackend start() {
        String nginx = ExternalProcesses.find("nginx", "nginx-light", "End-to-end tests");
        Path dir;
        try {
            dir = Files.createTempDirectory("torii-nginx-");
            // When the tests run as root, nginx's worker runs as nobody and must read the files.
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path www = Files.createDirectories(dir.resolve("www"));
            Files.setPosixFilePermissions(www, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.writeString(www.resolve("16k"), "0123456789abcdef".repeat(SIXTEEN_K / 16));
            // "aaaaaaaa\n" repeated; sub_filter turns every a into b, which makes nginx stream it chunked.
            Files.writeString(
                    www.resolve("text.txt"),
                    "aaaaaaaa\n".repeat(CHUNKED_BODY_LENGTH / 9 + 1).substring(0, CHUNKED_BODY_LENGTH));
        } catch (IOException e) {
            throw new UncheckedIOException("preparing nginx's directory", e);
        }
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            try {
                Path conf = dir.resolve("nginx.conf");
                Files.writeString(conf, config(dir, port));
                Process p = new ProcessBuilder(nginx, "-p", dir.toString(), "-c", conf.toString(), "-e", errorLog(dir))
                        .redirectErrorStream(true)
                        .redirectOutput(dir.resolve("stdout.log").toFile())
                        .start();
                if (awaitPort(p, port)) {
                    return new NginxBackend(dir, p, port);
                }
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                last = new IOException(
                        "nginx exited with " + p.exitValue() + " (port " + port + " taken?): " + readLog(dir));
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        ExternalProcesses.deleteQuietly(dir);
        throw new IllegalStateException("nginx did not start", last);
    }

    /** The port nginx listens on. */
    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:<port>}, as an upstream endpoint. */
    public String endpoint() {
        return "127.0.0.1:" + port;
    }

    /** nginx's error log so far, for failure messages. */
    public String errorLog() {
        return readLog(dir);
    }

    @Override
    public void close() {
        ProcessHandle handle = process.toHandle();
        List<ProcessHandle> workers = handle.descendants().toList();
        ExternalProcesses.stop(process); // SIGTERM to the master: fast shutdown, which stops its workers too
        workers.forEach(ProcessHandle::destroyForcibly); // only if the master died without stopping them
        ExternalProcesses.deleteQuietly(dir);
    }

    private static String config(Path dir, int port) {
        String d = dir.toString();
        return """
                daemon off;
                master_process on;
                worker_processes 1;
                pid %1$s/nginx.pid;
                error_log %2$s notice;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    client_body_temp_path %1$s/client_body;
                    proxy_temp_path %1$s/proxy;
                    fastcgi_temp_path %1$s/fastcgi;
                    uwsgi_temp_path %1$s/uwsgi;
                    scgi_temp_path %1$s/scgi;
                    default_type application/octet-stream;
                    keepalive_requests 10000;
                    server {
                        listen 127.0.0.1:%3$d;
                        root %1$s/www;
                        location = / { default_type text/plain; return 200 "ok\\n"; }
                        location = /16k { default_type text/plain; }
                        location = /echo-headers {
                            default_type text/plain;
                            return 200 "host=$http_host xff=$http_x_forwarded_for via=$http_via proto=$http_x_forwarded_proto xfh=$http_x_forwarded_host conn=$http_connection te=$http_te up=$http_upgrade\\n";
                        }
                        location = /status/204 { return 204; }
                        location = /status/304 { return 304; }
                        location = /status/404 { return 404; }
                        location = /chunked {
                            default_type text/plain;
                            alias %1$s/www/text.txt;
                            sub_filter_once off;
                            sub_filter_types *;
                            sub_filter 'a' 'b';
                            add_trailer X-Trailer "t-value";
                        }
                        location = /echo-body {
                            default_type text/plain;
                            client_body_buffer_size 1m;
                            client_max_body_size 10m;
                            return 200 "body=$content_length\\n";
                        }
                    }
                }
                """.formatted(d, errorLog(dir), port);
    }

    private static String errorLog(Path dir) {
        return dir.resolve("error.log").toString();
    }

    private static int freePort() {
        try (var s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
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
            try (var s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return true;
            } catch (IOException notYet) {
                Thread.sleep(20); // waiting for an external process to bind; there is no event to wait on
            }
        }
        return false;
    }

    private static String readLog(Path dir) {
        try {
            Path log = dir.resolve("error.log");
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "(no error log)";
        } catch (IOException e) {
            return "(error log unreadable: " + e + ")";
        }
    }
}
