package dev.torii;

import static dev.torii.testing.RawH2Client.CONTINUATION;
import static dev.torii.testing.RawH2Client.DATA;
import static dev.torii.testing.RawH2Client.END_HEADERS;
import static dev.torii.testing.RawH2Client.END_STREAM;
import static dev.torii.testing.RawH2Client.ENHANCE_YOUR_CALM;
import static dev.torii.testing.RawH2Client.FLOW_CONTROL_ERROR;
import static dev.torii.testing.RawH2Client.FRAME_SIZE_ERROR;
import static dev.torii.testing.RawH2Client.HEADERS;
import static dev.torii.testing.RawH2Client.PROTOCOL_ERROR;
import static dev.torii.testing.RawH2Client.STREAM_CLOSED;
import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * RFC 9113 conformance and the HTTP/2 attack limits, with frames written exactly as each test says
 * ({@link RawH2Client}). A malformed request is reset with PROTOCOL_ERROR and never reaches the upstream; framing
 * errors end the connection as the RFC says; each flood ends the attacker's connection with GOAWAY while another
 * client keeps being served and the gateway's buffer memory stays bounded.
 */
class Http2ProtectionTest {
    private static final long MEMORY_BOUND = 64L * 1024 * 1024;

    private static TestUpstream upstream;
    private static Gateway gateway;

    @BeforeAll
    static void start() {
        upstream = TestUpstream.start((req, res) -> {
            if (req.uri().startsWith("/slow")) {
                // Answered later: keeps the stream open.
                io.netty.util.concurrent.GlobalEventExecutor.INSTANCE.schedule(
                        () -> res.respond(200, List.of(), "slow\n"), 1500, TimeUnit.MILLISECONDS);
                return;
            }
            res.respond(200, List.of(), req.method() + " " + req.uri() + "\n");
        });
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .limits(Limits.builder()
                        .maxHeaderSize(16 * 1024)
                        .idleTimeout(Duration.ofSeconds(2))
                        .build())
                .http2Limits(Http2Limits.builder()
                        .maxConcurrentStreams(5)
                        .maxResetsPerWindow(50)
                        .maxControlFramesPerWindow(100)
                        .floodWindow(Duration.ofSeconds(30))
                        .idleTimeout(Duration.ofSeconds(3))
                        .build())
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private static RawH2Client client() throws IOException {
        return RawH2Client.connect(
                new InetSocketAddress("127.0.0.1", gateway.address("web").getPort()));
    }

    private static Http2Headers get(String path) {
        return RawH2Client.request("GET", path, "h2.test");
    }

    // ------------------------------------------------------------------ RFC 9113 section 8: malformed requests

    static List<Arguments> malformed() {
        return List.<Arguments>of(
                Arguments.of("missing :method", (UnaryOperator<Http2Headers>) h -> {
                    h.remove(":method");
                    return h;
                }),
                Arguments.of("missing :path", (UnaryOperator<Http2Headers>) h -> {
                    h.remove(":path");
                    return h;
                }),
                Arguments.of("missing :scheme", (UnaryOperator<Http2Headers>) h -> {
                    h.remove(":scheme");
                    return h;
                }),
                Arguments.of(":scheme https on a clear-text connection", (UnaryOperator<Http2Headers>)
                        h -> h.scheme("https")),
                Arguments.of(":scheme other than http", (UnaryOperator<Http2Headers>) h -> h.scheme("ftp")),
                Arguments.of("empty :path", (UnaryOperator<Http2Headers>) h -> h.path("")),
                Arguments.of("duplicate :path", (UnaryOperator<Http2Headers>) h -> h.add(":path", "/other")),
                Arguments.of("unknown pseudo-header", (UnaryOperator<Http2Headers>) h -> h.add(":foo", "bar")),
                Arguments.of("uppercase name", (UnaryOperator<Http2Headers>) h -> h.add("X-Upper", "1")),
                Arguments.of("connection", (UnaryOperator<Http2Headers>) h -> h.add("connection", "keep-alive")),
                Arguments.of("keep-alive", (UnaryOperator<Http2Headers>) h -> h.add("keep-alive", "timeout=5")),
                Arguments.of("proxy-connection", (UnaryOperator<Http2Headers>) h -> h.add("proxy-connection", "x")),
                Arguments.of(
                        "transfer-encoding", (UnaryOperator<Http2Headers>) h -> h.add("transfer-encoding", "chunked")),
                Arguments.of("upgrade", (UnaryOperator<Http2Headers>) h -> h.add("upgrade", "websocket")),
                Arguments.of("te other than trailers", (UnaryOperator<Http2Headers>) h -> h.add("te", "gzip")),
                Arguments.of("CR LF in a value", (UnaryOperator<Http2Headers>) h -> h.add("x-a", "a\r\nx-b: b")),
                Arguments.of("NUL in a value", (UnaryOperator<Http2Headers>) h -> h.add("x-a", "a\0b")),
                Arguments.of("leading space in a value", (UnaryOperator<Http2Headers>) h -> h.add("x-a", " a")),
                Arguments.of("space in a name", (UnaryOperator<Http2Headers>) h -> h.add("x a", "1")),
                Arguments.of(
                        "host differs from :authority", (UnaryOperator<Http2Headers>) h -> h.add("host", "evil.test")),
                Arguments.of(
                        "invalid content-length", (UnaryOperator<Http2Headers>) h -> h.add("content-length", "1x")),
                Arguments.of("content-length without DATA", (UnaryOperator<Http2Headers>)
                        h -> h.add("content-length", "5")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void aMalformedRequestIsAStreamErrorAndNeverReachesTheUpstream(String why, UnaryOperator<Http2Headers> breakIt)
            throws Exception {
        int before = upstream.requests().size();
        try (RawH2Client c = client()) {
            c.headers(1, breakIt.apply(get("/malformed")), true).flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status()).as(why).isNotEqualTo(200);
            assertThat(o.resetCode() == PROTOCOL_ERROR || o.goAwayCode() == PROTOCOL_ERROR)
                    .as("%s: reset %s / goaway %s", why, o.resetCode(), o.goAwayCode())
                    .isTrue();
            if (o.reset()) {
                // A stream error: the connection serves the next request.
                c.headers(3, get("/after"), true).flush();
                assertThat(c.await(3).status()).isEqualTo(200);
            }
        }
        assertThat(upstream.requests().stream().filter(r -> r.uri().equals("/malformed")))
                .as(why)
                .isEmpty();
        assertThat(upstream.requests().size()).isLessThanOrEqualTo(before + 1);
    }

    @Test
    void aPseudoHeaderAfterARegularOneIsMalformed() throws Exception {
        try (RawH2Client c = client()) {
            // HPACK by hand, in this order: :method GET, :scheme http, x-a: 1, :path /, :authority h2.test
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            block.writeBytes(new byte[] {(byte) 0x82, (byte) 0x86});
            block.writeBytes(literal("x-a", "1"));
            block.write(0x84);
            block.writeBytes(new byte[] {0x01, 7});
            block.writeBytes("h2.test".getBytes());
            c.frame(HEADERS, END_HEADERS | END_STREAM, 1, block.toByteArray()).flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status()).isNotEqualTo(200);
            assertThat(o.resetCode() == PROTOCOL_ERROR || o.goAwayCode() == PROTOCOL_ERROR)
                    .isTrue();
        }
    }

    /** An HPACK literal without indexing, new name, no Huffman (names and values under 127 bytes). */
    private static byte[] literal(String name, String value) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x00);
        b.write(name.length());
        b.writeBytes(name.getBytes());
        b.write(value.length());
        b.writeBytes(value.getBytes());
        return b.toByteArray();
    }

    @Test
    void contentLengthThatTheDataDoesNotMatchIsAStreamError() throws Exception {
        for (int[] sizes : new int[][] {{10, 5}, {3, 5}}) {
            try (RawH2Client c = client()) {
                c.headers(
                                1,
                                RawH2Client.request("POST", "/cl-" + sizes[0] + "-" + sizes[1], "h2.test")
                                        .add("content-length", Integer.toString(sizes[0])),
                                false)
                        .data(1, new byte[sizes[1]], true)
                        .flush();
                RawH2Client.Outcome o = c.await(1);
                assertThat(o.status()).isNotEqualTo(200);
                assertThat(o.resetCode() == PROTOCOL_ERROR || o.goAwayCode() == PROTOCOL_ERROR)
                        .as("reset %s / goaway %s", o.resetCode(), o.goAwayCode())
                        .isTrue();
            }
            assertThat(upstream.requests().stream().filter(r -> r.uri().startsWith("/cl-" + sizes[0]) && r.complete()))
                    .as("a complete request with the wrong length never reaches the upstream")
                    .isEmpty();
        }
    }

    @Test
    void trailersWithAPseudoHeaderOrWithoutEndStreamAreMalformed() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, RawH2Client.request("POST", "/trailers-bad", "h2.test"), false)
                    .data(1, "abc".getBytes(), false)
                    .headers(1, new io.netty.handler.codec.http2.DefaultHttp2Headers(false).path("/x"), true)
                    .flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.resetCode() == PROTOCOL_ERROR || o.goAwayCode() == PROTOCOL_ERROR)
                    .isTrue();
        }
        try (RawH2Client c = client()) {
            c.headers(1, RawH2Client.request("POST", "/trailers-open", "h2.test"), false)
                    .data(1, "abc".getBytes(), false)
                    .headers(1, new io.netty.handler.codec.http2.DefaultHttp2Headers(false).add("x-t", "1"), false)
                    .flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.resetCode() == PROTOCOL_ERROR || o.goAwayCode() == PROTOCOL_ERROR)
                    .isTrue();
        }
        assertThat(upstream.requests().stream()
                        .filter(r ->
                                (r.uri().equals("/trailers-bad") || r.uri().equals("/trailers-open")) && r.complete()))
                .isEmpty();
    }

    @Test
    void requestTrailersPassThroughToAnHttp11Upstream() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, RawH2Client.request("POST", "/trailers-ok", "h2.test").add("te", "trailers"), false)
                    .data(1, "abc".getBytes(), false)
                    .headers(1, new io.netty.handler.codec.http2.DefaultHttp2Headers(false).add("x-sum", "42"), true)
                    .flush();
            assertThat(c.await(1).status()).isEqualTo(200);
        }
        var seen = upstream.requests().stream()
                .filter(r -> r.uri().equals("/trailers-ok"))
                .findFirst()
                .orElseThrow();
        assertThat(new String(seen.body())).isEqualTo("abc");
        assertThat(seen.trailer("x-sum")).isEqualTo("42");
    }

    // ------------------------------------------------------------------ framing errors (connection errors)

    @Test
    void framesOnIdleOrClosedStreamsAndFramingErrorsAreHandledAsTheRfcSays() throws Exception {
        try (RawH2Client c = client()) {
            // DATA on a stream that was never opened (idle): connection error PROTOCOL_ERROR (RFC 9113 5.1).
            c.data(5, "x".getBytes(), true).flush();
            assertThat(c.awaitGoAway()).isEqualTo(PROTOCOL_ERROR);
        }
        try (RawH2Client c = client()) {
            c.headers(1, get("/closed"), true).flush();
            assertThat(c.await(1).status()).isEqualTo(200);
            // DATA on a closed stream: STREAM_CLOSED (as a stream or a connection error).
            c.data(1, "x".getBytes(), false).flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.resetCode() == STREAM_CLOSED || o.goAwayCode() == STREAM_CLOSED)
                    .as("reset %s / goaway %s", o.resetCode(), o.goAwayCode())
                    .isTrue();
        }
        try (RawH2Client c = client()) {
            // A frame larger than SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR (RFC 9113 4.2).
            c.headers(1, RawH2Client.request("POST", "/big-frame", "h2.test"), false)
                    .data(1, new byte[16_385], true)
                    .flush();
            assertThat(c.awaitGoAway()).isEqualTo(FRAME_SIZE_ERROR);
        }
        try (RawH2Client c = client()) {
            // A WINDOW_UPDATE that takes the connection window past 2^31-1: FLOW_CONTROL_ERROR (RFC 9113 6.9.1).
            c.windowUpdate(0, Integer.MAX_VALUE).flush();
            assertThat(c.awaitGoAway()).isEqualTo(FLOW_CONTROL_ERROR);
        }
        try (RawH2Client c = client()) {
            // A client-initiated stream with an even id: PROTOCOL_ERROR (RFC 9113 5.1.1).
            c.headers(2, get("/even"), true).flush();
            assertThat(c.awaitGoAway()).isEqualTo(PROTOCOL_ERROR);
        }
        assertThat(upstream.requests().stream()
                        .filter(r -> r.uri().equals("/even") || r.uri().equals("/big-frame")))
                .isEmpty();
    }

    // ------------------------------------------------------------------ floods and limits

    /**
     * Runs {@code attack} on its own connection while another client keeps making requests, samples Netty's buffer
     * memory throughout, and returns the attacker's GOAWAY code.
     */
    private static int underAttack(Attack attack) throws Exception {
        var metric = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
        AtomicLong peak = new AtomicLong();
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (sampling.get()) {
                peak.accumulateAndGet(metric.usedDirectMemory() + metric.usedHeapMemory(), Math::max);
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try (RawH2Client attacker = client();
                RawH2Client bystander = client()) {
            CompletableFuture<Integer> goAway = CompletableFuture.supplyAsync(() -> {
                try {
                    attack.run(attacker);
                    attacker.flush();
                    return attacker.awaitGoAway();
                } catch (IOException e) {
                    // The gateway may close while the attack is still being written: that ends it too.
                    return -2;
                }
            });
            for (int i = 0; i < 10; i++) {
                int stream = 1 + 2 * i;
                bystander.headers(stream, get("/bystander/" + i), true).flush();
                assertThat(bystander.await(stream).status())
                        .as("another client is served during the attack")
                        .isEqualTo(200);
            }
            int code = goAway.get(30, TimeUnit.SECONDS);
            // And after it.
            bystander.headers(21, get("/bystander/after"), true).flush();
            assertThat(bystander.await(21).status()).isEqualTo(200);
            return code;
        } finally {
            sampling.set(false);
            sampler.join();
            assertThat(peak.get())
                    .as("peak Netty buffer memory during the attack")
                    .isLessThan(MEMORY_BOUND);
        }
    }

    @FunctionalInterface
    interface Attack {
        void run(RawH2Client c) throws IOException;
    }

    @Test
    void rapidResetIsStoppedWithEnhanceYourCalm() throws Exception {
        int before = upstream.requests().size();
        int code = underAttack(c -> {
            // Past the limit of 50 per window: each pair opens a request and cancels it at once.
            for (int i = 0; i < 120; i++) {
                int stream = 1 + 2 * i;
                c.headers(stream, get("/reset/" + i), true).rst(stream, 0x8);
            }
        });
        assertThat(code).isEqualTo(ENHANCE_YOUR_CALM);
        long reached = upstream.requests().stream()
                .filter(r -> r.uri().startsWith("/reset/"))
                .count();
        assertThat(reached)
                .as("requests that reached the upstream before the connection was closed (of 120)")
                .isLessThanOrEqualTo(51);
        assertThat(upstream.requests().size() - before).isLessThanOrEqualTo(51 + 11);
    }

    @Test
    void continuationFloodIsStopped() throws Exception {
        int code = underAttack(c -> {
            byte[] block = c.encode(1, get("/continuation"));
            c.frame(HEADERS, 0, 1, block);
            // Netty allows 16 small CONTINUATION frames per header block.
            for (int i = 0; i < 100; i++) {
                c.frame(CONTINUATION, 0, 1, new byte[] {0x40, 0x01, 'x', 0x00});
            }
        });
        assertThat(code).isIn(ENHANCE_YOUR_CALM, PROTOCOL_ERROR);
    }

    @Test
    void continuationFramesBeyondTheHeaderListSizeAreRefused() throws Exception {
        int before = upstream.requests().size();
        try (RawH2Client c = client()) {
            byte[] block = c.encode(1, get("/huge-headers"));
            c.frame(HEADERS, 0, 1, block);
            // 64 large CONTINUATION frames, each a 10 KiB header: far over the 16 KiB header list limit.
            for (int i = 0; i < 64; i++) {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                b.write(0x00);
                b.write(3);
                b.writeBytes(("x" + (char) ('a' + i % 26) + i % 10).getBytes());
                b.writeBytes(new byte[] {0x7f, (byte) 0x81, 0x4f}); // 127 + 10113 = 10240
                b.writeBytes(new byte[10_240]);
                c.frame(CONTINUATION, i == 63 ? END_HEADERS : 0, 1, b.toByteArray());
            }
            c.flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status()).isNotEqualTo(200);
            assertThat(o.status() == 431 || o.reset() || o.goAwayCode() >= 0).isTrue();
        } catch (IOException e) {
            // Closed while we were still writing: refused too.
        }
        assertThat(upstream.requests().size()).isEqualTo(before);
    }

    @Test
    void hpackBombStopsAtTheHeaderListSize() throws Exception {
        int before = upstream.requests().size();
        try (RawH2Client c = client()) {
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            block.writeBytes(new byte[] {(byte) 0x82, (byte) 0x86, (byte) 0x84, 0x01, 7});
            block.writeBytes("h2.test".getBytes());
            // One 4000-byte value added to the dynamic table (literal with incremental indexing)...
            block.writeBytes(new byte[] {0x40, 0x01, 'b', 0x7f, (byte) 0xa1, 0x1e});
            block.writeBytes(new byte[4000]);
            // ...then referenced 2000 times at one byte each: 8 MB decoded from 8 KB on the wire.
            for (int i = 0; i < 2000; i++) {
                block.write(0xbe);
            }
            byte[] all = block.toByteArray();
            int at = 0;
            boolean first = true;
            while (at < all.length) {
                int n = Math.min(16_384, all.length - at);
                byte[] part = java.util.Arrays.copyOfRange(all, at, at + n);
                at += n;
                int flags = (at == all.length ? END_HEADERS : 0) | (first ? END_STREAM : 0);
                c.frame(first ? HEADERS : CONTINUATION, flags, 1, part);
                first = false;
            }
            c.flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status()).isNotEqualTo(200);
            assertThat(o.status() == 431 || o.reset() || o.goAwayCode() >= 0)
                    .as("status %s reset %s goaway %s", o.status(), o.resetCode(), o.goAwayCode())
                    .isTrue();
        }
        assertThat(upstream.requests().size()).isEqualTo(before);
    }

    @Test
    void settingsFloodIsStopped() throws Exception {
        int code = underAttack(c -> {
            // The limit is 100 per window: one past it (a longer flood ends the same way, but the gateway then
            // closes with unread frames in its socket, and the TCP reset can overtake the GOAWAY).
            for (int i = 0; i < 101; i++) {
                c.settings(Map.of(0x4, 65_535 + i % 2));
            }
        });
        assertThat(code).isEqualTo(ENHANCE_YOUR_CALM);
        assertThat(gateway.stats().http2FloodsStopped()).isPositive();
    }

    @Test
    void pingFloodIsStopped() throws Exception {
        int code = underAttack(c -> {
            for (int i = 0; i < 101; i++) {
                c.ping(i);
            }
        });
        assertThat(code).isEqualTo(ENHANCE_YOUR_CALM);
    }

    @Test
    void emptyDataFloodIsStopped() throws Exception {
        int code = underAttack(c -> {
            c.headers(1, RawH2Client.request("POST", "/empty-data", "h2.test"), false);
            for (int i = 0; i < 20; i++) {
                c.frame(DATA, 0, 1, new byte[0]);
            }
        });
        assertThat(code).isEqualTo(ENHANCE_YOUR_CALM);
    }

    @Test
    void streamsOverMaxConcurrentStreamsAreRefused() throws Exception {
        try (RawH2Client c = client()) {
            for (int i = 0; i < 6; i++) {
                c.headers(1 + 2 * i, get("/slow/" + i), true);
            }
            c.flush();
            RawH2Client.Outcome sixth = c.await(11);
            assertThat(sixth.resetCode()).as("REFUSED_STREAM").isEqualTo(0x7);
            for (int i = 0; i < 5; i++) {
                assertThat(c.await(1 + 2 * i).status()).isEqualTo(200);
            }
        }
    }

    @Test
    void aStreamWhoseBodyStallsIsEndedAndTheConnectionGoesOn() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, RawH2Client.request("POST", "/stall", "h2.test"), false)
                    .data(1, "part".getBytes(), false)
                    .flush();
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status() == 408 || o.reset())
                    .as("status %s reset %s", o.status(), o.resetCode())
                    .isTrue();
            c.headers(3, get("/after-stall"), true).flush();
            assertThat(c.await(3).status()).isEqualTo(200);
        }
    }

    @Test
    void anIdleConnectionIsClosedWithGoAway() throws Exception {
        try (RawH2Client c = client()) {
            c.headers(1, get("/then-idle"), true).flush();
            assertThat(c.await(1).status()).isEqualTo(200);
            assertThat(c.awaitGoAway())
                    .as("GOAWAY NO_ERROR after the idle timeout")
                    .isZero();
        }
    }
}
