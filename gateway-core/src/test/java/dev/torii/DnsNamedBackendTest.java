package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.dns.DnsCache;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.ControlledUnbound;
import dev.torii.upstream.Upstream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * A backend named by DNS follows its record: the name served by a real unbound moves from one address to another while
 * Torii runs; new TCP connections and new HTTP requests reach the new address once the TTL has passed, while a TCP
 * connection and an HTTP response already under way stay on the old one until they end.
 */
class DnsNamedBackendTest {
    private static final String ZONE = "gw.test.";

    @Test
    void newConnectionsFollowAChangedRecordAfterItsTtlWhileOpenOnesKeepWorking() throws Exception {
        try (NamedBackend a = NamedBackend.start("A", InetAddress.getByName("127.0.0.1"), 0);
                NamedBackend b = NamedBackend.start("B", InetAddress.getByName("127.0.0.2"), a.port());
                ControlledUnbound unbound = ControlledUnbound.start(List.of(
                        "local-zone: \".\" static",
                        "local-zone: \"" + ZONE + "\" static",
                        "local-data: \"" + ZONE + " 3600 IN SOA ns." + ZONE + " admin." + ZONE
                                + " 1 3600 600 86400 5\"",
                        "local-data: \"app." + ZONE + " 1 IN A 127.0.0.1\""));
                DnsCache cache = DnsCache.builder()
                        .upstreams(List.of(unbound.address()))
                        .queryTimeout(Duration.ofSeconds(2))
                        .build();
                Gateway gateway = Gateway.builder()
                        .listener(Listener.http("web", "127.0.0.1:0"))
                        .listener(TcpListener.of("tcp", "127.0.0.1:0", "named"))
                        .dnsCache(cache)
                        .ioThreads(1)
                        .routingTable(RoutingTable.builder()
                                .upstream(Upstream.builder("named")
                                        .endpoint("app.gw.test:" + a.port())
                                        .connectTimeout(Duration.ofSeconds(2))
                                        .build())
                                .route(Route.builder("all").upstream("named").build())
                                .build())
                        .build()
                        .start();
                HttpClient http = HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .build()) {
            InetSocketAddress tcp = gateway.address("tcp");
            String base = "http://127.0.0.1:" + gateway.address("web").getPort();
            Supplier<String> get = () -> {
                try {
                    return http.send(
                                    HttpRequest.newBuilder(URI.create(base + "/"))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString())
                            .body();
                } catch (IOException e) {
                    return "failed: " + e;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            };

            try (Line open = Line.connect(tcp)) {
                assertThat(open.ask("hello")).isEqualTo("A:hello");
                assertThat(get.get()).isEqualTo("A");
                CompletableFuture<HttpResponse<String>> slow = http.sendAsync(
                        HttpRequest.newBuilder(URI.create(base + "/slow")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(a.slowStarted.await(10, TimeUnit.SECONDS))
                        .as("the slow response started on A")
                        .isTrue();

                unbound.replace("app." + ZONE, "app." + ZONE + " 1 IN A 127.0.0.2");

                assertThat(eventually(() -> {
                            try (Line fresh = Line.connect(tcp)) {
                                return fresh.ask("new");
                            }
                        }))
                        .as("a new TCP connection reaches the new address after the TTL")
                        .isEqualTo("B:new");
                assertThat(eventually(get::get))
                        .as("a new HTTP request reaches the new address")
                        .isEqualTo("B");
                assertThat(open.ask("again"))
                        .as("the connection opened before the change still works, on the old address")
                        .isEqualTo("A:again");

                a.releaseSlow.countDown();
                HttpResponse<String> done = slow.get(10, TimeUnit.SECONDS);
                assertThat(done.statusCode()).isEqualTo(200);
                assertThat(done.body())
                        .as("the response under way at the change finished from the old address")
                        .isEqualTo("first,second");
            }
            assertThat(b.slowStarted.getCount()).isEqualTo(1);
        }
    }

    /** Calls {@code attempt} until it answers from B (bounded: 20 s), returning the last answer. */
    private static String eventually(ThrowingSupplier attempt) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        String last;
        do {
            last = attempt.get();
            if (last.startsWith("B")) {
                return last;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        } while (System.nanoTime() < deadline);
        return last;
    }

    private interface ThrowingSupplier {
        String get() throws Exception;
    }

    /** A line-oriented client connection: sends a line, reads the reply line. */
    private record Line(Socket socket, BufferedReader in) implements AutoCloseable {
        static Line connect(InetSocketAddress address) throws IOException {
            Socket s = new Socket(address.getAddress(), address.getPort());
            s.setSoTimeout(10_000);
            return new Line(s, new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)));
        }

        String ask(String line) throws IOException {
            socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            return in.readLine();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /**
     * A backend that says who it is: to a line of a raw TCP client it answers {@code NAME:line}; to an HTTP/1.1 GET it
     * answers its name as the body (keep-alive), and {@code /slow} answers {@code first,} then {@code second} once
     * {@link #releaseSlow} is counted down. One virtual thread per connection.
     */
    private static final class NamedBackend implements AutoCloseable {
        final CountDownLatch slowStarted = new CountDownLatch(1);
        final CountDownLatch releaseSlow = new CountDownLatch(1);
        private final String name;
        private final ServerSocket server;

        private NamedBackend(String name, ServerSocket server) {
            this.name = name;
            this.server = server;
            Thread.ofVirtual().start(this::acceptLoop);
        }

        static NamedBackend start(String name, InetAddress ip, int port) throws IOException {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(ip, port), 50);
            return new NamedBackend(name, s);
        }

        int port() {
            return server.getLocalPort();
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread.ofVirtual().start(() -> serve(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                var in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                OutputStream out = s.getOutputStream();
                for (String line; (line = in.readLine()) != null; ) {
                    if (!line.startsWith("GET ")) {
                        out.write((name + ":" + line + "\n").getBytes(StandardCharsets.UTF_8));
                        out.flush();
                        continue;
                    }
                    for (String h; (h = in.readLine()) != null && !h.isEmpty(); ) {
                        // headers are not needed
                    }
                    if (line.startsWith("GET /slow ")) {
                        out.write(
                                "HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nfirst,".getBytes(StandardCharsets.UTF_8));
                        out.flush();
                        slowStarted.countDown();
                        if (!releaseSlow.await(30, TimeUnit.SECONDS)) {
                            return;
                        }
                        out.write("second".getBytes(StandardCharsets.UTF_8));
                    } else {
                        out.write(("HTTP/1.1 200 OK\r\ncontent-length: " + name.length() + "\r\n\r\n" + name)
                                .getBytes(StandardCharsets.UTF_8));
                    }
                    out.flush();
                }
            } catch (IOException e) {
                // the peer went away
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
