package dev.torii.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.Limits;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RedisServer;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.Upstream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** TCP listeners end to end: the real redis-cli, through Torii, to a real redis-server on loopback. */
class TcpProxyTest {
    private static RedisServer redis;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void startRedis() {
        redis = RedisServer.start();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private static Upstream upstream(String name, String... endpoints) {
        var b = Upstream.builder(name).connectTimeout(Duration.ofSeconds(2));
        for (String e : endpoints) {
            b.endpoint(e);
        }
        return b.build();
    }

    private Gateway gateway(TcpListener listener, Consumer<Gateway.Builder> more, Upstream... upstreams) {
        var t = RoutingTable.builder();
        for (Upstream u : upstreams) {
            t.upstream(u);
        }
        var b = Gateway.builder().listener(listener).routingTable(t.build()).ioThreads(2);
        more.accept(b);
        Gateway g = b.build().start();
        closeables.add(g);
        return g;
    }

    private Gateway gateway(TcpListener listener, Upstream... upstreams) {
        return gateway(listener, b -> {}, upstreams);
    }

    /** A port nothing listens on (bound once, then released). */
    private static String deadEndpoint() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return "127.0.0.1:" + s.getLocalPort();
        }
    }

    private static String cli(Gateway g, String... args) {
        var r = RedisServer.cli(g.address("cache"), null, args);
        return r.text();
    }

    /** Reads until EOF or a reset; returns what came. */
    private static byte[] readToEnd(Socket s) throws IOException {
        s.setSoTimeout(10_000);
        var out = new java.io.ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
            }
        } catch (SocketException reset) {
            // a reset ends the stream too
        }
        return out.toByteArray();
    }

    @Test
    void redisCliCommandsGoThroughTheTcpListenerToRedis() {
        Gateway g = gateway(TcpListener.of("cache", "127.0.0.1:0", "redis"), upstream("redis", redis.hostPort()));

        assertThat(cli(g, "PING")).isEqualTo("PONG");
        assertThat(cli(g, "SET", "tcp-key", "through torii")).isEqualTo("OK");
        assertThat(cli(g, "GET", "tcp-key")).isEqualTo("through torii");
        // The key is really in the redis behind the listener.
        assertThat(RedisServer.cli(redis.address(), null, "GET", "tcp-key").text())
                .isEqualTo("through torii");
        assertThat(g.stats().tcpConnectionsTotal()).isEqualTo(3);
        assertThat(g.stats().upstreamConnectionsOpened()).isEqualTo(3);
    }

    @Test
    void aValueOfSeveralMebibytesCrossesBothWays() {
        Gateway g = gateway(TcpListener.of("cache", "127.0.0.1:0", "redis"), upstream("redis", redis.hostPort()));
        byte[] value = new byte[6 * 1024 * 1024];
        var random = new Random(42);
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        for (int i = 0; i < value.length; i++) {
            value[i] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
        }

        assertThat(RedisServer.cli(g.address("cache"), value, "-x", "SET", "big")
                        .text())
                .isEqualTo("OK");
        assertThat(RedisServer.cli(redis.address(), null, "STRLEN", "big").text())
                .isEqualTo(String.valueOf(value.length));
        byte[] back = RedisServer.cli(g.address("cache"), null, "GET", "big").stdout();
        // raw output: the value and a newline
        assertThat(back).hasSize(value.length + 1);
        assertThat(java.util.Arrays.equals(back, 0, value.length, value, 0, value.length))
                .isTrue();
    }

    @Test
    void aClientIsClosedWhenTheUpstreamIsDown() throws Exception {
        Gateway g = gateway(TcpListener.of("cache", "127.0.0.1:0", "down"), upstream("down", deadEndpoint()));

        try (Socket s =
                new Socket(InetAddress.getLoopbackAddress(), g.address("cache").getPort())) {
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readToEnd(s)).isEmpty();
        }
        var r = RedisServer.cli(g.address("cache"), null, "PING");
        assertThat(r.text()).doesNotContain("PONG");
    }

    @Test
    void aFailedConnectTriesAnotherEndpointOnce() throws Exception {
        Gateway g = gateway(
                TcpListener.of("cache", "127.0.0.1:0", "redis"), upstream("redis", deadEndpoint(), redis.hostPort()));

        for (int i = 0; i < 4; i++) {
            assertThat(cli(g, "PING")).isEqualTo("PONG");
        }
    }

    @Test
    void aConnectHookRejectsAClientByAddress() throws Exception {
        Hook denyLoopback2 = new Hook() {
            @Override
            public ConnectResult onConnect(Connection c) {
                return c.clientAddress().getAddress().getHostAddress().equals("127.0.0.2")
                        ? ConnectResult.reject()
                        : ConnectResult.proceed();
            }
        };
        Gateway g = gateway(
                TcpListener.builder("cache", "127.0.0.1:0", "redis")
                        .hook(denyLoopback2)
                        .build(),
                upstream("redis", redis.hostPort()));
        InetSocketAddress at = g.address("cache");

        try (Socket s = new Socket(at.getAddress(), at.getPort(), InetAddress.getByName("127.0.0.2"), 0)) {
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readToEnd(s)).isEmpty();
        }
        try (Socket s = new Socket(at.getAddress(), at.getPort(), InetAddress.getByName("127.0.0.1"), 0)) {
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            s.setSoTimeout(10_000);
            assertThat(new String(s.getInputStream().readNBytes(7), StandardCharsets.US_ASCII))
                    .isEqualTo("+PONG\r\n");
        }
        assertThat(g.stats().tcpConnectionsRejected()).isEqualTo(1);
    }

    @Test
    void globalAndListenerHooksChooseTheBackendAlsoAsynchronously() throws Exception {
        var seen = new ArrayList<String>();
        Hook global = new Hook() {
            @Override
            public ConnectResult onConnect(Connection c) {
                seen.add(c.listener() + " " + c.upstream());
                c.useUpstream("redis");
                // decided on another thread; the connection resumes on its own loop
                return ConnectResult.later(CompletableFuture.supplyAsync(
                        ConnectResult::proceed, CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS)));
            }
        };
        Hook listenerHook = new Hook() {
            @Override
            public ConnectResult onConnect(Connection c) {
                seen.add(c.upstream());
                return ConnectResult.proceed();
            }
        };
        Gateway g = gateway(
                TcpListener.builder("cache", "127.0.0.1:0", "down")
                        .hook(listenerHook)
                        .build(),
                b -> b.hook(global),
                upstream("down", deadEndpoint()),
                upstream("redis", redis.hostPort()));

        assertThat(cli(g, "PING")).isEqualTo("PONG");
        assertThat(seen).containsExactly("cache down", "redis");
    }

    @Test
    void aHookMayPickAnEndpointDirectly() throws Exception {
        Hook pin = new Hook() {
            @Override
            public ConnectResult onConnect(Connection c) {
                c.useEndpoint(Endpoint.parse(redis.hostPort()));
                return ConnectResult.proceed();
            }
        };
        Gateway g = gateway(
                TcpListener.builder("cache", "127.0.0.1:0", "down").hook(pin).build(),
                upstream("down", deadEndpoint()));

        assertThat(cli(g, "PING")).isEqualTo("PONG");
    }

    @Test
    void aHookThatThrowsClosesTheConnectionAndAnUnknownUpstreamIsRefused() throws Exception {
        Hook bad = new Hook() {
            @Override
            public ConnectResult onConnect(Connection c) {
                c.useUpstream("nope");
                return ConnectResult.proceed();
            }
        };
        Gateway g = gateway(
                TcpListener.builder("cache", "127.0.0.1:0", "redis").hook(bad).build(),
                upstream("redis", redis.hostPort()));

        try (Socket s =
                new Socket(InetAddress.getLoopbackAddress(), g.address("cache").getPort())) {
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readToEnd(s)).isEmpty();
        }
        assertThatThrownBy(() -> Gateway.builder()
                        .listener(TcpListener.of("cache", "127.0.0.1:0", "missing"))
                        .routingTable(RoutingTable.builder()
                                .upstream(upstream("redis", redis.hostPort()))
                                .build())
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("listener 'cache' upstream: 'missing' (expected one of the routing table's upstreams:"
                        + " redis)");
    }

    @Test
    void halfCloseReachesRedisAndTheReplyStillComesBack() throws Exception {
        Gateway g = gateway(TcpListener.of("cache", "127.0.0.1:0", "redis"), upstream("redis", redis.hostPort()));

        try (Socket s =
                new Socket(InetAddress.getLoopbackAddress(), g.address("cache").getPort())) {
            s.getOutputStream().write("SET half closed\r\nGET half\r\n".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            assertThat(new String(readToEnd(s), StandardCharsets.US_ASCII)).isEqualTo("+OK\r\n$6\r\nclosed\r\n");
        }
    }

    @Test
    void halfCloseIsPassedOnInBothDirections() throws Exception {
        // A backend that answers only after the client's FIN, then sends its own FIN: the reply can only arrive if
        // the proxy passed the client's half-close on and kept the other direction open.
        try (ServerSocket backend = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofVirtual().start(() -> {
                try (Socket s = backend.accept()) {
                    long n = s.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
                    s.getOutputStream().write(("got " + n + " bytes").getBytes(StandardCharsets.US_ASCII));
                    s.shutdownOutput();
                    s.setSoTimeout(10_000);
                    s.getInputStream().read(); // wait for the close
                } catch (IOException ignored) {
                    // the test fails on the client side
                }
            });
            Gateway g = gateway(
                    TcpListener.of("raw", "127.0.0.1:0", "raw"),
                    upstream("raw", "127.0.0.1:" + backend.getLocalPort()));

            try (Socket s = new Socket(
                    InetAddress.getLoopbackAddress(), g.address("raw").getPort())) {
                byte[] payload = new byte[300_000];
                s.getOutputStream().write(payload);
                s.shutdownOutput();
                assertThat(new String(readToEnd(s), StandardCharsets.US_ASCII)).isEqualTo("got 300000 bytes");
            }
            server.join(10_000);
        }
    }

    @Test
    void aClientThatDoesNotReadStopsTheProxyReadingTheBackend() throws Exception {
        // The backend writes 96 MiB as fast as it can; the client reads nothing at first. If the proxy buffered what
        // the client does not take, the backend could write everything; with reads driven by writability it is held
        // back by the socket buffers (a few MiB on loopback) and the proxy's write-buffer water mark.
        long total = 96L * 1024 * 1024;
        var written = new java.util.concurrent.atomic.AtomicLong();
        try (ServerSocket backend = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofVirtual().start(() -> {
                try (Socket s = backend.accept()) {
                    byte[] chunk = new byte[64 * 1024];
                    var out = s.getOutputStream();
                    while (written.get() < total) {
                        out.write(chunk);
                        written.addAndGet(chunk.length);
                    }
                    s.shutdownOutput();
                    s.getInputStream().read();
                } catch (IOException ignored) {
                    // the client side asserts
                }
            });
            Gateway g = gateway(
                    TcpListener.of("raw", "127.0.0.1:0", "raw"),
                    upstream("raw", "127.0.0.1:" + backend.getLocalPort()));

            try (Socket s = new Socket(
                    InetAddress.getLoopbackAddress(), g.address("raw").getPort())) {
                s.setReceiveBufferSize(64 * 1024);
                // Wait until the backend is stuck: its count stops moving.
                long last = -1;
                while (written.get() != last) {
                    last = written.get();
                    TimeUnit.MILLISECONDS.sleep(300);
                }
                assertThat(written.get())
                        .as("bytes the backend could write while the client read nothing")
                        .isLessThan(48L * 1024 * 1024);
                s.shutdownOutput();
                assertThat(s.getInputStream().transferTo(java.io.OutputStream.nullOutputStream()))
                        .isEqualTo(total);
            }
            server.join(10_000);
        }
    }

    @Test
    void anIdleConnectionIsClosedAfterTheListenersIdleTimeout() throws Exception {
        Gateway g = gateway(
                TcpListener.builder("cache", "127.0.0.1:0", "redis")
                        .idleTimeout(Duration.ofMillis(300))
                        .build(),
                upstream("redis", redis.hostPort()));

        try (Socket s =
                new Socket(InetAddress.getLoopbackAddress(), g.address("cache").getPort())) {
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            s.setSoTimeout(10_000);
            assertThat(new String(s.getInputStream().readNBytes(7), StandardCharsets.US_ASCII))
                    .isEqualTo("+PONG\r\n");
            assertThat(readToEnd(s)).isEmpty(); // closed by the gateway, well before the read timeout
        }
    }

    @Test
    void shutdownClosesEstablishedConnectionsAtTheDeadline() throws Exception {
        var t = RoutingTable.builder()
                .upstream(upstream("redis", redis.hostPort()))
                .build();
        Gateway g = Gateway.builder()
                .listener(TcpListener.of("cache", "127.0.0.1:0", "redis"))
                .routingTable(t)
                .limits(Limits.builder().shutdownTimeout(Duration.ofMillis(300)).build())
                .ioThreads(1)
                .build()
                .start();
        try (Socket s =
                new Socket(InetAddress.getLoopbackAddress(), g.address("cache").getPort())) {
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            s.setSoTimeout(10_000);
            assertThat(new String(s.getInputStream().readNBytes(7), StandardCharsets.US_ASCII))
                    .isEqualTo("+PONG\r\n");
            assertThat(g.stats().tcpConnections()).isEqualTo(1);
            g.shutdown(Duration.ofMillis(300)).get(20, TimeUnit.SECONDS);
            assertThat(readToEnd(s)).isEmpty();
        } finally {
            g.close();
        }
    }
}
