package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.H2WebSocketClient;
import dev.torii.testing.H2WebSocketClient.Event;
import dev.torii.testing.H2WebSocketClient.Kind;
import dev.torii.testing.Http2TestServer;
import dev.torii.testing.TestCertificates;
import dev.torii.testing.WebSocketEchoServer;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import dev.torii.upstream.UpstreamTls;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * WebSocket through the gateway, with real clients and a real server: the JDK's {@code java.net.http.WebSocket}
 * (HTTP/1.1 Upgrade, clear and TLS), {@link H2WebSocketClient} (RFC 8441 extended CONNECT over h2c and over TLS h2)
 * and Node's HTTP/2 client ({@code node}, nghttp2: RFC 8441 from an HTTP/2 stack other than Netty's) against
 * {@link WebSocketEchoServer} (Netty's RFC 6455 server) behind an HTTP/1.1 upstream connection.
 */
class WebSocketProxyTest {
    private static final int MIB = 1 << 20;
    /**
     * Netty buffer memory (the gateway's: the echo server and the h2 client allocate elsewhere) that may not be
     * exceeded while {@link #FLOOD} MiB go each way through a tunnel whose client reads late; a proxy that read on
     * regardless would hold most of them.
     */
    private static final long BOUND = 16L * MIB;

    private static TestCertificates certs;
    private static WebSocketEchoServer echo;
    private static Http2TestServer h2Upstream;
    private static WebSocketEchoServer tlsEcho;
    private static Gateway gateway;
    private static final List<ExchangeLog> logs = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws IOException {
        certs = TestCertificates.create();
        TestCertificates.Issued site = certs.issue("ws.test", "127.0.0.1");
        echo = WebSocketEchoServer.start();
        h2Upstream = Http2TestServer.start(0);
        TestCertificates.Issued backend = certs.issue("echo.internal");
        tlsEcho = WebSocketEchoServer.startTls(backend.cert(), backend.key());
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .listener(Listener.https(
                        "secure",
                        "127.0.0.1:0",
                        ServerTls.builder()
                                .certificates(List.of(CertificateFiles.of(site.cert(), site.key())))
                                .reloadInterval(Duration.ZERO)
                                .build()))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("echo")
                                .endpoint(echo.endpoint())
                                .build())
                        .upstream(Upstream.builder("h2")
                                .endpoint(h2Upstream.endpoint())
                                .protocol(UpstreamProtocol.H2C)
                                .build())
                        .upstream(Upstream.builder("echo-tls")
                                .endpoint(tlsEcho.endpoint())
                                .protocol(UpstreamProtocol.HTTPS)
                                .tls(UpstreamTls.builder()
                                        .caFile(certs.caCert())
                                        .serverName("echo.internal")
                                        .build())
                                .build())
                        .route(Route.builder("h2")
                                .pathPrefix("/h2-upstream")
                                .upstream("h2")
                                .build())
                        .route(Route.builder("tls")
                                .pathPrefix("/echo/tls")
                                .upstream("echo-tls")
                                .build())
                        .route(Route.builder("all").upstream("echo").build())
                        .build())
                .hook(new Hook() {
                    @Override
                    public HookResult onRequest(Exchange ex) {
                        if (ex.request().path().startsWith("/refused")) {
                            return HookResult.respond(403, "refused by a hook\n");
                        }
                        return HookResult.proceed();
                    }

                    @Override
                    public void onLog(Exchange ex) {
                        logs.add(ex.log());
                    }
                })
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (echo != null) {
            echo.close();
        }
        if (h2Upstream != null) {
            h2Upstream.close();
        }
        if (tlsEcho != null) {
            tlsEcho.close();
        }
        if (certs != null) {
            certs.close();
        }
    }

    @BeforeEach
    void clear() {
        logs.clear();
    }

    private static InetSocketAddress address(String listener) {
        return gateway.address(listener);
    }

    private static byte[] pattern(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    private static String text(int size) {
        var sb = new StringBuilder(size);
        for (int i = 0; i < size; i++) {
            sb.append((char) ('a' + i % 26));
        }
        return sb.toString();
    }

    private static ExchangeLog awaitLog(String uri) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            for (ExchangeLog l : logs) {
                if (l.uri().equals(uri)) {
                    return l;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no LOG for " + uri + " in " + logs);
    }

    // ------------------------------------------------------------------ HTTP/1.1 Upgrade, JDK client

    /** Collects what the JDK client receives: whole messages, pongs, the close. */
    static final class Received implements WebSocket.Listener {
        final BlockingQueue<Object> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        volatile String closeReason;
        private final boolean readAtOnce;
        private final StringBuilder text = new StringBuilder();
        private final ByteArrayOutputStream binary = new ByteArrayOutputStream();

        Received(boolean readAtOnce) {
            this.readAtOnce = readAtOnce;
        }

        @Override
        public void onOpen(WebSocket ws) {
            if (readAtOnce) {
                ws.request(Long.MAX_VALUE);
            }
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                messages.add(text.toString());
                text.setLength(0);
            }
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            binary.writeBytes(b);
            if (last) {
                messages.add(binary.toByteArray());
                binary.reset();
            }
            return null;
        }

        @Override
        public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
            messages.add("PONG " + StandardCharsets.UTF_8.decode(message));
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
            closeReason = reason;
            closed.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            closed.completeExceptionally(error);
        }

        Object next() throws InterruptedException {
            Object o = messages.poll(20, TimeUnit.SECONDS);
            assertThat(o).as("a message within 20 s").isNotNull();
            return o;
        }
    }

    private static WebSocket open(String path, Received listener) throws Exception {
        return HttpClient.newHttpClient()
                .newWebSocketBuilder()
                .subprotocols("chat")
                .connectTimeout(Duration.ofSeconds(10))
                .buildAsync(URI.create("ws://127.0.0.1:" + address("web").getPort() + path), listener)
                .get(20, TimeUnit.SECONDS);
    }

    @Test
    void textAndBinaryMessagesUpToOneMebibyteAreEchoedThroughAnHttp11Upgrade() throws Exception {
        var in = new Received(true);
        WebSocket ws = open("/echo?h1", in);
        assertThat(ws.getSubprotocol()).isEqualTo("chat");

        ws.sendText("hello", true).get(10, TimeUnit.SECONDS);
        assertThat(in.next()).isEqualTo("hello");
        String bigText = text(MIB);
        ws.sendText(bigText, true).get(20, TimeUnit.SECONDS);
        assertThat(in.next()).isEqualTo(bigText);
        byte[] bigBinary = pattern(MIB, 7);
        ws.sendBinary(ByteBuffer.wrap(bigBinary), true).get(20, TimeUnit.SECONDS);
        assertThat((byte[]) in.next()).isEqualTo(bigBinary);

        ws.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);
        assertThat(in.closed.get(10, TimeUnit.SECONDS)).isEqualTo(1000);

        // The upstream saw the client's own handshake: Upgrade, Connection and Sec-WebSocket-* kept.
        Map<String, String> seen = echo.handshakes().stream()
                .filter(h -> h.containsKey("x-forwarded-for"))
                .reduce((a, b) -> b)
                .orElseThrow();
        assertThat(seen.get("upgrade")).isEqualToIgnoringCase("websocket");
        assertThat(seen.get("connection")).isEqualToIgnoringCase("upgrade");
        assertThat(seen).containsKeys("sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol");
        assertThat(seen.get("via")).isEqualTo("1.1 torii");

        ExchangeLog log = awaitLog("/echo?h1");
        assertThat(log.status()).isEqualTo(101);
        assertThat(log.error()).isNull();
        assertThat(log.requestBodyBytes()).as("frame bytes from the client").isGreaterThan(2L * MIB);
        assertThat(log.responseBodyBytes()).as("frame bytes to the client").isGreaterThan(2L * MIB);
    }

    @Test
    void pingsPongsAndCloseCodesPassBothWaysOverHttp11() throws Exception {
        var in = new Received(true);
        WebSocket ws = open("/echo", in);
        // A ping from the client: the server's pong comes back.
        ws.sendPing(ByteBuffer.wrap("are you there".getBytes(StandardCharsets.UTF_8)))
                .get(10, TimeUnit.SECONDS);
        assertThat(in.next()).isEqualTo("PONG are you there");
        // A ping from the server: the JDK client answers it, and the server reports the pong's data.
        ws.sendText("ping:from server", true).get(10, TimeUnit.SECONDS);
        assertThat(in.next()).isEqualTo("pong:from server");
        // The server closes with a custom code.
        ws.sendText("close:4002", true).get(10, TimeUnit.SECONDS);
        assertThat(in.closed.get(10, TimeUnit.SECONDS)).isEqualTo(4002);
        assertThat(in.closeReason).isEqualTo("bye");
        // (The JDK client answers the close itself.)

        // The client closes with a custom code: the server sees it and answers with it.
        var in2 = new Received(true);
        WebSocket ws2 = open("/echo", in2);
        int before = echo.closeCodes().size();
        ws2.sendClose(4001, "client leaves").get(10, TimeUnit.SECONDS);
        assertThat(in2.closed.get(10, TimeUnit.SECONDS)).isEqualTo(4001);
        assertThat(echo.closeCodes().subList(before, echo.closeCodes().size())).containsExactly(4001);
    }

    @Test
    void anUpstreamThatRefusesTheUpgradeAnswersTheClientWithItsStatus() {
        assertThatThrownBy(() -> open("/forbidden", new Received(true)))
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isInstanceOfSatisfying(
                        WebSocketHandshakeException.class,
                        e -> assertThat(e.getResponse().statusCode()).isEqualTo(403));
    }

    @Test
    void aRequestHookCanRefuseAnUpgrade() throws Exception {
        int handshakes = echo.handshakes().size();
        assertThatThrownBy(() -> open("/refused", new Received(true)))
                .cause()
                .isInstanceOfSatisfying(
                        WebSocketHandshakeException.class,
                        e -> assertThat(e.getResponse().statusCode()).isEqualTo(403));
        assertThat(echo.handshakes()).as("nothing reached the upstream").hasSize(handshakes);
        assertThat(awaitLog("/refused").status()).isEqualTo(403);
    }

    @Test
    void aRefusedUpgradeLeavesTheConnectionForTheNextRequest() throws Exception {
        try (Socket s = new Socket("127.0.0.1", address("web").getPort())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            // The upgrade and a pipelined request in one write: the second waits until the first is answered.
            out.write(("GET /forbidden HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                            + "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String first = readResponse(in);
            assertThat(first).startsWith("HTTP/1.1 403").endsWith("no websockets here\n");
            String second = readResponse(in);
            assertThat(second).startsWith("HTTP/1.1 200").endsWith("plain\n");
        }
    }

    @Test
    void anUpgradeToAnythingButWebSocketIsAnOrdinaryRequestWithoutUpgrade() throws Exception {
        try (Socket s = new Socket("127.0.0.1", address("web").getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream()
                    .write(("GET /other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo/2\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            String response = readResponse(s.getInputStream());
            assertThat(response).startsWith("HTTP/1.1 200").endsWith("plain\n");
        }
        Map<String, String> seen = echo.requests().stream()
                .filter(r -> r.get(":uri").equals("/other"))
                .findFirst()
                .orElseThrow(() -> new AssertionError(echo.requests()));
        assertThat(seen).doesNotContainKeys("upgrade", "connection");
    }

    @Test
    void webSocketOverTlsHttp11EchoesAndCloses() throws Exception {
        var trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream pem = java.nio.file.Files.newInputStream(certs.caCert())) {
            trust.setCertificateEntry(
                    "ca",
                    java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(pem));
        }
        var tmf =
                javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        var ssl = javax.net.ssl.SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        var in = new Received(true);
        WebSocket ws = HttpClient.newBuilder()
                .sslContext(ssl)
                .build()
                .newWebSocketBuilder()
                .buildAsync(URI.create("wss://127.0.0.1:" + address("secure").getPort() + "/echo?wss"), in)
                .get(20, TimeUnit.SECONDS);
        byte[] big = pattern(MIB, 11);
        ws.sendBinary(ByteBuffer.wrap(big), true).get(20, TimeUnit.SECONDS);
        assertThat((byte[]) in.next()).isEqualTo(big);
        ws.sendText("close:4004", true).get(10, TimeUnit.SECONDS);
        assertThat(in.closed.get(10, TimeUnit.SECONDS)).isEqualTo(4004);
        ExchangeLog log = awaitLog("/echo?wss");
        assertThat(log.status()).isEqualTo(101);
        assertThat(log.responseBodyBytes()).isGreaterThan(MIB);
    }

    @Test
    void anHttpsUpstreamCarriesTheTunnelOverTls() throws Exception {
        // HTTP/1.1 over TLS to the upstream (verified against the test CA): the tunnel runs above its TLS handler.
        var in = new Received(true);
        WebSocket ws = open("/echo/tls", in);
        byte[] big = pattern(MIB, 5);
        ws.sendBinary(ByteBuffer.wrap(big), true).get(20, TimeUnit.SECONDS);
        assertThat((byte[]) in.next()).isEqualTo(big);
        ws.sendText("close:4006", true).get(10, TimeUnit.SECONDS);
        assertThat(in.closed.get(10, TimeUnit.SECONDS)).isEqualTo(4006);
        ExchangeLog log = awaitLog("/echo/tls");
        assertThat(log.status()).isEqualTo(101);
        assertThat(log.upstream()).isEqualTo("echo-tls");
        assertThat(log.error()).isNull();
    }

    @Test
    void theEndOfTheClientsDataEndsTheUpstreamsAndBack() throws Exception {
        try (Socket s = new Socket("127.0.0.1", address("web").getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream()
                    .write(("GET /echo?half HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            String head = readResponse(s.getInputStream());
            assertThat(head.toLowerCase(java.util.Locale.ROOT))
                    .startsWith("http/1.1 101")
                    .contains("upgrade: websocket")
                    .contains("connection: upgrade")
                    .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=");
            // FIN from the client: the gateway half-closes the upstream, which closes; its FIN comes back to us.
            s.shutdownOutput();
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        }
        ExchangeLog log = awaitLog("/echo?half");
        assertThat(log.status()).isEqualTo(101);
        assertThat(log.error()).isNull();
    }

    @Test
    void aTunnelWithoutTrafficForTheIdleTimeoutIsClosed() throws Exception {
        Gateway g = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("echo")
                                .endpoint(echo.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("echo").build())
                        .build())
                .limits(Limits.builder().idleTimeout(Duration.ofMillis(300)).build())
                .hook(new Hook() {
                    @Override
                    public void onLog(Exchange ex) {
                        logs.add(ex.log());
                    }
                })
                .ioThreads(1)
                .build()
                .start();
        try {
            var in = new Received(true);
            WebSocket ws = HttpClient.newHttpClient()
                    .newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + g.address("web").getPort() + "/echo?idle"), in)
                    .get(20, TimeUnit.SECONDS);
            ws.sendText("still here", true).get(10, TimeUnit.SECONDS);
            assertThat(in.next()).isEqualTo("still here");
            // Then nothing: the gateway closes both sides (the client sees the connection end without a close frame).
            Integer code = in.closed.handle((c, e) -> c == null ? -1 : c).get(20, TimeUnit.SECONDS);
            assertThat(code).isNotEqualTo(1000);
            ExchangeLog log = awaitLog("/echo?idle");
            assertThat(log.status()).isEqualTo(101);
            assertThat(log.requestBodyBytes()).isPositive();
        } finally {
            g.close();
        }
    }

    @Test
    void anUpgradeToAnHttp2UpstreamIsAnOrdinaryRequest() throws Exception {
        try (Socket s = new Socket("127.0.0.1", address("web").getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream()
                    .write(("GET /h2-upstream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                                    + "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
            // No RFC 8441 towards upstreams: the h2c upstream answers a plain GET, and the connection goes on.
            assertThat(readResponse(s.getInputStream()))
                    .startsWith("HTTP/1.1 200")
                    .endsWith("ok");
            assertThat(readResponse(s.getInputStream()))
                    .startsWith("HTTP/1.1 200")
                    .endsWith("plain\n");
        }
    }

    /** A Content-Length-framed response head and body. */
    private static String readResponse(InputStream in) throws IOException {
        var head = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            head.write(c);
            byte[] h = head.toByteArray();
            int n = h.length;
            if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                break;
            }
        }
        String headText = head.toString(StandardCharsets.US_ASCII);
        int length = 0;
        for (String line : headText.split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).strip());
            }
        }
        return headText + new String(in.readNBytes(length), StandardCharsets.US_ASCII);
    }

    // ------------------------------------------------------------------ RFC 8441 over HTTP/2

    private static void echoesOverHttp2(H2WebSocketClient c, String uri) throws Exception {
        echoesOverHttp2(c, "http", uri);
    }

    private static void echoesOverHttp2(H2WebSocketClient c, String scheme, String uri) throws Exception {
        Http2Headers head = c.open(scheme, "ws.test", uri, Map.of("sec-websocket-protocol", "chat"));
        assertThat(head.status().toString()).isEqualTo("200");
        assertThat(head.get("sec-websocket-protocol").toString()).isEqualTo("chat");
        assertThat(head.contains("sec-websocket-accept")).isFalse();

        c.sendText("hello");
        assertThat(c.next(Duration.ofSeconds(10)).text()).isEqualTo("hello");
        String bigText = text(MIB);
        c.sendText(bigText);
        Event t = c.next(Duration.ofSeconds(20));
        assertThat(t.kind()).isEqualTo(Kind.TEXT);
        assertThat(t.text()).isEqualTo(bigText);
        byte[] bigBinary = pattern(MIB, 3);
        c.sendBinary(bigBinary);
        Event b = c.next(Duration.ofSeconds(20));
        assertThat(b.kind()).isEqualTo(Kind.BINARY);
        assertThat(b.data()).isEqualTo(bigBinary);
    }

    @Test
    void webSocketOverHttp2ExtendedConnectIsProxiedToAnHttp11Upgrade() throws Exception {
        try (var c = H2WebSocketClient.connect(address("web"))) {
            echoesOverHttp2(c, "/echo?h2");
            // The upstream got an HTTP/1.1 handshake with a key the gateway made.
            Map<String, String> seen = echo.handshakes().getLast();
            assertThat(seen.get("upgrade")).isEqualToIgnoringCase("websocket");
            assertThat(seen.get("connection")).isEqualToIgnoringCase("upgrade");
            assertThat(seen.get("sec-websocket-key")).hasSize(24);
            assertThat(seen.get("sec-websocket-version")).isEqualTo("13");
            assertThat(seen.get("host")).isEqualTo("ws.test");
            assertThat(seen.get("via")).isEqualTo("2 torii");

            // Pings both ways.
            c.send(new io.netty.handler.codec.http.websocketx.PingWebSocketFrame(
                    io.netty.buffer.Unpooled.copiedBuffer("h2 ping", StandardCharsets.UTF_8)));
            Event pong = c.next(Duration.ofSeconds(10));
            assertThat(pong.kind()).isEqualTo(Kind.PONG);
            assertThat(pong.text()).isEqualTo("h2 ping");
            c.sendText("ping:over h2");
            assertThat(c.next(Duration.ofSeconds(10)).kind()).isEqualTo(Kind.PING);
            assertThat(c.next(Duration.ofSeconds(10)).text()).isEqualTo("pong:over h2");

            // The server closes with 4003: the close frame, then END_STREAM when it closes its connection.
            c.sendText("close:4003");
            Event close = c.next(Duration.ofSeconds(10));
            assertThat(close.kind()).isEqualTo(Kind.CLOSE);
            assertThat(close.code()).isEqualTo(4003);
            int before = echo.closeCodes().size();
            c.send(new io.netty.handler.codec.http.websocketx.CloseWebSocketFrame(4003, "ok"));
            assertThat(c.next(Duration.ofSeconds(10)).kind()).isEqualTo(Kind.END_STREAM);
            c.endStream();
            awaitCloseCodes(before + 1);
            assertThat(echo.closeCodes().getLast()).isEqualTo(4003);
        }
        ExchangeLog log = awaitLog("/echo?h2");
        assertThat(log.protocol()).isEqualTo("HTTP/2.0");
        assertThat(log.status()).isEqualTo(200);
        assertThat(log.error()).isNull();
        assertThat(log.requestBodyBytes()).isGreaterThan(2L * MIB);
        assertThat(log.responseBodyBytes()).isGreaterThan(2L * MIB);
    }

    private static void awaitCloseCodes(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (echo.closeCodes().size() < n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(echo.closeCodes()).hasSizeGreaterThanOrEqualTo(n);
    }

    @Test
    void aClientCloseCodeReachesTheServerOverHttp2() throws Exception {
        try (var c = H2WebSocketClient.connect(address("web"))) {
            c.open("http", "ws.test", "/echo", Map.of());
            int before = echo.closeCodes().size();
            c.send(new io.netty.handler.codec.http.websocketx.CloseWebSocketFrame(4001, "client leaves"));
            Event answer = c.next(Duration.ofSeconds(10));
            assertThat(answer.kind()).isEqualTo(Kind.CLOSE);
            assertThat(answer.code()).isEqualTo(4001);
            assertThat(c.next(Duration.ofSeconds(10)).kind()).isEqualTo(Kind.END_STREAM);
            awaitCloseCodes(before + 1);
            assertThat(echo.closeCodes().getLast()).isEqualTo(4001);
        }
    }

    @Test
    void anUpstreamResetResetsTheStreamWithConnectError() throws Exception {
        try (var c = H2WebSocketClient.connect(address("web"))) {
            c.open("http", "ws.test", "/echo?reset", Map.of());
            c.sendText("reset");
            Event e = c.next(Duration.ofSeconds(10));
            assertThat(e.kind()).isEqualTo(Kind.RESET);
            assertThat(e.code()).as("CONNECT_ERROR (RFC 9113 8.5)").isEqualTo(0xa);
        }
        ExchangeLog log = awaitLog("/echo?reset");
        assertThat(log.error()).isEqualTo(ProxyError.UPSTREAM_RESET);
    }

    @Test
    void webSocketOverTlsHttp2EchoesAndCloses() throws Exception {
        try (var c = H2WebSocketClient.connectTls(address("secure"), certs.caCert(), "ws.test")) {
            echoesOverHttp2(c, "https", "/echo?tls");
            c.send(new io.netty.handler.codec.http.websocketx.CloseWebSocketFrame(1000, "bye"));
            Event close = c.next(Duration.ofSeconds(10));
            assertThat(close.kind()).isEqualTo(Kind.CLOSE);
            assertThat(close.code()).isEqualTo(1000);
            assertThat(c.next(Duration.ofSeconds(10)).kind()).isEqualTo(Kind.END_STREAM);
            c.endStream();
        }
        assertThat(awaitLog("/echo?tls").status()).isEqualTo(200);
    }

    @Test
    void aRefusedExtendedConnectGetsTheUpstreamsStatusOverHttp2() throws Exception {
        try (var c = H2WebSocketClient.connect(address("web"))) {
            Http2Headers head = c.open("http", "ws.test", "/forbidden", Map.of());
            assertThat(head.status().toString()).isEqualTo("403");
            Event body = c.next(Duration.ofSeconds(10));
            assertThat(body.kind()).isEqualTo(Kind.BODY);
            assertThat(body.text()).isEqualTo("no websockets here\n");
        }
        try (var c = H2WebSocketClient.connect(address("web"))) {
            Http2Headers head = c.open("http", "ws.test", "/refused", Map.of());
            assertThat(head.status().toString()).isEqualTo("403");
            assertThat(c.next(Duration.ofSeconds(10)).text()).isEqualTo("refused by a hook\n");
        }
    }

    @Test
    void nodesHttp2ClientSpeaksWebSocketThroughAnExtendedConnect() throws Exception {
        // Node's HTTP/2 stack (nghttp2, independent of Netty) sends the extended CONNECT only once the gateway's
        // SETTINGS enabled it; the script frames its messages itself.
        java.nio.file.Path script = java.nio.file.Path.of(WebSocketProxyTest.class
                .getResource("/websocket/rfc8441-client.mjs")
                .toURI());
        Process node = new ProcessBuilder(
                        "node", script.toString(), String.valueOf(address("web").getPort()), "/echo?node")
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        List<String> lines;
        try (var out = node.getInputStream()) {
            lines = new String(out.readAllBytes(), StandardCharsets.UTF_8)
                    .lines()
                    .toList();
        }
        assertThat(node.waitFor(30, TimeUnit.SECONDS)).isTrue();
        int sum = 0;
        for (int i = 0; i < 256 * 1024; i++) {
            sum = (sum + ((i * 7) & 0xff)) % 65521;
        }
        assertThat(node.exitValue()).as("node's output: %s", lines).isZero();
        assertThat(lines)
                .containsExactly(
                        "{\"status\":200,\"protocol\":\"chat\"}",
                        "{\"text\":\"hello from node\"}",
                        "{\"binary\":262144,\"sum\":" + sum + "}",
                        "{\"pong\":\"node ping\"}",
                        "{\"close\":4005,\"reason\":\"bye\"}",
                        "{\"end\":true}");
        ExchangeLog log = awaitLog("/echo?node");
        assertThat(log.protocol()).isEqualTo("HTTP/2.0");
        assertThat(log.status()).isEqualTo(200);
    }

    // ------------------------------------------------------------------ backpressure

    @SuppressWarnings("try") // close() throws InterruptedException: it joins the sampler thread, on purpose
    private static final class PeakMemory implements AutoCloseable {
        final AtomicLong peak = new AtomicLong();
        private volatile boolean sampling = true;
        private final Thread sampler;

        PeakMemory() {
            var metric = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
            sampler = Thread.ofPlatform().daemon().start(() -> {
                while (sampling) {
                    peak.accumulateAndGet(metric.usedDirectMemory() + metric.usedHeapMemory(), Math::max);
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        @Override
        public void close() throws InterruptedException {
            sampling = false;
            sampler.join();
        }
    }

    private static final int FLOOD = 48;

    @Test
    @SuppressWarnings("try") // PeakMemory.close() throws InterruptedException and is called early on purpose
    void manyMessagesToASlowHttp11ReaderStayWithinBoundedMemory() throws Exception {
        var in = new Received(false);
        WebSocket ws = open("/echo?flood-h1", in);
        try (var memory = new PeakMemory()) {
            Thread sender = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < FLOOD; i++) {
                    ws.sendBinary(ByteBuffer.wrap(pattern(MIB, i)), true).join();
                }
            });
            // The reader starts late: a proxy without backpressure would pile the messages up meanwhile.
            Thread.sleep(500);
            ws.request(Long.MAX_VALUE);
            for (int i = 0; i < FLOOD; i++) {
                assertThat(Arrays.equals((byte[]) in.next(), pattern(MIB, i)))
                        .as("message %d intact", i)
                        .isTrue();
            }
            sender.join(30_000);
            assertThat(sender.isAlive()).isFalse();
            memory.close();
            assertThat(memory.peak.get())
                    .as("peak Netty buffer memory while %d MiB went each way", FLOOD)
                    .isPositive()
                    .isLessThan(BOUND);
        }
        ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
        in.closed.get(10, TimeUnit.SECONDS);
    }

    @Test
    @SuppressWarnings("try") // PeakMemory.close() throws InterruptedException and is called early on purpose
    void manyMessagesToASlowHttp2ReaderStayWithinBoundedMemory() throws Exception {
        try (var c = H2WebSocketClient.connect(address("web"))) {
            c.open("http", "ws.test", "/echo?flood-h2", Map.of());
            c.pauseReading();
            try (var memory = new PeakMemory()) {
                Thread sender = Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < FLOOD; i++) {
                            c.sendBinary(pattern(MIB, i));
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                Thread.sleep(500);
                c.resumeReading();
                for (int i = 0; i < FLOOD; i++) {
                    Event e = c.next(Duration.ofSeconds(30));
                    assertThat(e.kind()).isEqualTo(Kind.BINARY);
                    assertThat(Arrays.equals(e.data(), pattern(MIB, i)))
                            .as("message %d intact", i)
                            .isTrue();
                }
                sender.join(30_000);
                assertThat(sender.isAlive()).isFalse();
                memory.close();
                assertThat(memory.peak.get())
                        .as("peak Netty buffer memory while %d MiB went each way", FLOOD)
                        .isPositive()
                        .isLessThan(BOUND);
            }
        }
    }
}
