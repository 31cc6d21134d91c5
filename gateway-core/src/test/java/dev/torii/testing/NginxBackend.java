package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
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
 *   <li>{@code /status/204}, {@code /status/304}, {@code /status/404}, {@code /status/503} answer that status
 *   <li>{@code /chunked} answers a chunked body of {@link #CHUNKED_BODY_LENGTH} bytes ({@code "b"} runs and newlines)
 *       with the trailer {@code X-Trailer: t-value}
 *   <li>{@code /echo-body} reads the request body and answers its length as {@code body=<n>}
 *   <li>{@code /echo-protocol} answers {@code proto=… scheme=… host=… cookie=… te=…}: how the request arrived
 *   <li>{@code /slow} serves the 16 KiB file at 8 KiB/s (about a second), to keep exchanges in flight together
 *   <li>{@code /big} serves a static file of {@link Options#bigFileBytes} bytes when that option is set
 * </ul>
 *
 * <p>{@link #start(Options)} varies the server: HTTP/2 with prior knowledge ({@code listen … http2}, h2c) or over TLS
 * ({@code listen … ssl http2} with a {@link TestCertificates} leaf), {@code http2_max_concurrent_streams},
 * {@code keepalive_requests} (after which nginx closes an HTTP/1.1 connection or sends GOAWAY on an HTTP/2 one), and
 * an access log of {@code $connection $server_protocol $request_uri tp=$http_traceparent} lines ({@link #accessLog()}).
 *
 * <p>nginx is looked up on the {@code PATH} and then at {@code /usr/sbin/nginx}; if it is missing, construction fails
 * with a message saying to install it. Tests never skip for want of it. Thread-safe after construction.
 */
public final class NginxBackend implements AutoCloseable {
    public static final int SIXTEEN_K = 16 * 1024;
    public static final int CHUNKED_BODY_LENGTH = 3000;

    /**
     * How to run nginx. Immutable; start from {@link #defaults()}.
     *
     * @param http2 serve HTTP/2 (h2c prior knowledge without {@code tls}, h2 by ALPN with it)
     * @param tls the certificate to serve TLS with, or null for plain TCP
     * @param maxConcurrentStreams {@code http2_max_concurrent_streams}, or 0 for nginx's default (128)
     * @param keepaliveRequests {@code keepalive_requests}: requests per connection before nginx closes it (HTTP/1.1) or
     *     sends GOAWAY (HTTP/2)
     * @param bigFileBytes the size of {@code /big}, or 0 for none
     */
    public record Options(
            boolean http2,
            TestCertificates.Issued tls,
            int maxConcurrentStreams,
            int keepaliveRequests,
            long bigFileBytes) {
        public static Options defaults() {
            return new Options(false, null, 0, 10000, 0);
        }

        public Options withHttp2() {
            return new Options(true, tls, maxConcurrentStreams, keepaliveRequests, bigFileBytes);
        }

        public Options withTls(TestCertificates.Issued cert) {
            return new Options(http2, cert, maxConcurrentStreams, keepaliveRequests, bigFileBytes);
        }

        public Options withMaxConcurrentStreams(int n) {
            return new Options(http2, tls, n, keepaliveRequests, bigFileBytes);
        }

        public Options withKeepaliveRequests(int n) {
            return new Options(http2, tls, maxConcurrentStreams, n, bigFileBytes);
        }

        public Options withBigFile(long bytes) {
            return new Options(http2, tls, maxConcurrentStreams, keepaliveRequests, bytes);
        }
    }

    private final Path dir;
    private final Process process;
    private final int port;

    private NginxBackend(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** Starts nginx with the default options and returns once its port accepts connections. */
    public static NginxBackend start() {
        return start(Options.defaults());
    }

    /** Starts nginx with {@code options} and returns once its port accepts connections. */
    public static NginxBackend start(Options options) {
        return start(options, ExternalProcesses::freeTcpPort);
    }

    /**
     * Starts nginx with {@code options} on {@code port} (one that an nginx stopped by the test used: an endpoint
     * brought back) and returns once the port accepts connections.
     */
    public static NginxBackend start(Options options, int port) {
        return start(options, () -> port);
    }

    private static NginxBackend start(Options options, java.util.function.IntSupplier ports) {
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
            if (options.bigFileBytes() > 0) {
                writeBigFile(www.resolve("big"), options.bigFileBytes());
            }
            if (options.tls() != null) {
                // Copies nginx's worker (nobody) can read.
                Files.copy(options.tls().cert(), dir.resolve("cert.pem"));
                Files.copy(options.tls().key(), dir.resolve("key.pem"));
                Files.setPosixFilePermissions(dir.resolve("key.pem"), PosixFilePermissions.fromString("rw-r--r--"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("preparing nginx's directory", e);
        }
        return ExternalProcesses.startOnFreePort(
                "nginx",
                dir,
                ports,
                port -> {
                    Path conf = dir.resolve("nginx.conf");
                    Files.writeString(conf, config(dir, port, options));
                    return new ProcessBuilder(nginx, "-p", dir.toString(), "-c", conf.toString(), "-e", errorLog(dir))
                            .redirectErrorStream(true)
                            .redirectOutput(dir.resolve("stdout.log").toFile())
                            .start();
                },
                NginxBackend::awaitPort,
                (p, port) -> new NginxBackend(dir, p, port),
                () -> readLog(dir));
    }

    /** The port nginx listens on. */
    public int port() {
        return port;
    }

    /** {@code 127.0.0.1:<port>}, as an upstream endpoint. */
    public String endpoint() {
        return "127.0.0.1:" + port;
    }

    /**
     * The access log so far: one {@code "<connection> <protocol> <uri> tp=<traceparent>"} line per request (the
     * request's W3C {@code traceparent}, {@code -} when absent).
     */
    public List<String> accessLog() {
        try {
            Path log = dir.resolve("access.log");
            return Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** How many distinct connections the access log's requests came on. */
    public long connectionsInAccessLog() {
        return accessLog().stream().map(l -> l.split(" ")[0]).distinct().count();
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

    private static void writeBigFile(Path file, long bytes) throws IOException {
        byte[] block = new byte[1 << 16];
        for (int i = 0; i < block.length; i++) {
            block[i] = (byte) ('a' + i % 26);
        }
        try (var out = Files.newOutputStream(file)) {
            for (long left = bytes; left > 0; left -= block.length) {
                out.write(block, 0, (int) Math.min(block.length, left));
            }
        }
    }

    private static String config(Path dir, int port, Options o) {
        String d = dir.toString();
        String listen = "127.0.0.1:" + port + (o.tls() != null ? " ssl" : "") + (o.http2() ? " http2" : "");
        String extra = (o.tls() != null
                        ? "ssl_certificate " + d + "/cert.pem;\n        ssl_certificate_key " + d + "/key.pem;\n"
                        : "")
                + (o.maxConcurrentStreams() > 0
                        ? "        http2_max_concurrent_streams " + o.maxConcurrentStreams() + ";\n"
                        : "");
        return """
                daemon off;
                master_process on;
                worker_processes 1;
                pid %1$s/nginx.pid;
                error_log %2$s notice;
                events { worker_connections 1024; }
                http {
                    log_format conn '$connection $server_protocol $request_uri tp=$http_traceparent';
                    access_log %1$s/access.log conn;
                    client_body_temp_path %1$s/client_body;
                    proxy_temp_path %1$s/proxy;
                    fastcgi_temp_path %1$s/fastcgi;
                    uwsgi_temp_path %1$s/uwsgi;
                    scgi_temp_path %1$s/scgi;
                    default_type application/octet-stream;
                    keepalive_requests %5$d;
                    server {
                        listen %3$s;
                        %4$s
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
                        location = /status/503 { return 503; }
                        location = /chunked {
                            default_type text/plain;
                            alias %1$s/www/text.txt;
                            sub_filter_once off;
                            sub_filter_types *;
                            sub_filter 'a' 'b';
                            add_trailer X-Trailer "t-value";
                        }
                        location = /echo-protocol {
                            default_type text/plain;
                            return 200 "proto=$server_protocol scheme=$scheme host=$host cookie=$http_cookie te=$http_te\\n";
                        }
                        location = /big { default_type application/octet-stream; }
                        location = /slow {
                            default_type text/plain;
                            alias %1$s/www/16k;
                            limit_rate 8k;
                        }
                        location = /echo-body {
                            default_type text/plain;
                            client_body_buffer_size 1m;
                            client_max_body_size 10m;
                            return 200 "body=$content_length\\n";
                        }
                    }
                }
                """.formatted(d, errorLog(dir), listen, extra, o.keepaliveRequests());
    }

    private static String errorLog(Path dir) {
        return dir.resolve("error.log").toString();
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
