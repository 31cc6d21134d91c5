package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * HTTP/2 flow control both ways: a client that does not open its window makes the gateway stop reading the upstream
 * (not buffer the response), and an upstream that does not read makes the gateway stop granting the client window
 * (not buffer the request body). Netty's buffer memory is sampled throughout.
 */
class Http2ClientFlowControlTest {
    private static final int BIG = 48 * 1024 * 1024;
    private static final long BOUND = 16L * 1024 * 1024;

    private Gateway gateway;
    private TestUpstream upstream;

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private Gateway gatewayTo(String endpoint) {
        return Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app").endpoint(endpoint).build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .ioThreads(1)
                .build()
                .start();
    }

    private static long bufferMemory() {
        var metric = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
        return metric.usedDirectMemory() + metric.usedHeapMemory();
    }

    @Test
    void aClientThatDoesNotOpenItsWindowPausesTheUpstreamInsteadOfFillingMemory() throws Exception {
        byte[] big = new byte[BIG];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 7 + 3);
        }
        // A blocking upstream outside Netty: its writes wait in the kernel's socket buffers, so any growth of
        // Netty's buffer memory is the gateway's.
        ServerSocket blockingUpstream = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().start(() -> {
            try (blockingUpstream;
                    Socket s = blockingUpstream.accept()) {
                InputStream in = s.getInputStream();
                int matched = 0;
                while (matched < 4) {
                    int b = in.read();
                    if (b < 0) {
                        return;
                    }
                    matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
                }
                var out = s.getOutputStream();
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + BIG + "\r\n\r\n").getBytes());
                for (int at = 0; at < BIG; at += 65536) {
                    out.write(big, at, Math.min(65536, BIG - at));
                }
                out.flush();
                Thread.sleep(60_000);
            } catch (Exception e) {
                // the test is over
            }
        });
        gateway = gatewayTo("127.0.0.1:" + blockingUpstream.getLocalPort());
        try (RawH2Client c = RawH2Client.connect(
                new InetSocketAddress("127.0.0.1", gateway.address("web").getPort()))) {
            c.timeout(60_000);
            c.headers(1, RawH2Client.request("GET", "/big", "fc.test"), true).flush();
            // Read nothing for a while: the gateway may send one 64 KiB window, the rest must wait upstream.
            long peak = 0;
            for (int i = 0; i < 40; i++) {
                Thread.sleep(50);
                peak = Math.max(peak, bufferMemory());
            }
            assertThat(peak)
                    .as("Netty buffer memory while the client's window is closed (response is %d bytes)", BIG)
                    .isLessThan(BOUND);
            RawH2Client.Outcome o = c.await(1);
            assertThat(o.status()).isEqualTo(200);
            assertThat(o.body()).isEqualTo(big);
        }
    }

    @Test
    void anUpstreamThatDoesNotReadStopsTheClientsBodyByFlowControl() throws Exception {
        AtomicLong peak = new AtomicLong();
        try (ServerSocket stalled = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            // Accepts and then reads nothing: its socket buffers fill, then the gateway's writes stop.
            CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    Socket s = stalled.accept();
                    s.setReceiveBufferSize(4096);
                    return s;
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            upstream = TestUpstream.start();
            gateway = Gateway.builder()
                    .listener(Listener.http("web", "127.0.0.1:0"))
                    .routingTable(RoutingTable.builder()
                            .upstream(Upstream.builder("ok")
                                    .endpoint(upstream.endpoint())
                                    .build())
                            .upstream(Upstream.builder("stalled")
                                    .endpoint("127.0.0.1:" + stalled.getLocalPort())
                                    .build())
                            .route(Route.builder("upload")
                                    .pathPrefix("/upload")
                                    .upstream("stalled")
                                    .build())
                            .route(Route.builder("all").upstream("ok").build())
                            .build())
                    .ioThreads(1)
                    .build()
                    .start();
            try (HttpClient client = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_2)
                    .connectTimeout(Duration.ofSeconds(5))
                    .build()) {
                String base = "http://127.0.0.1:" + gateway.address("web").getPort();
                // A first request without a body upgrades the client's connection to h2c; the upload is a stream.
                HttpResponse<String> first = client.send(
                        HttpRequest.newBuilder(URI.create(base + "/first")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(first.version()).isEqualTo(HttpClient.Version.HTTP_2);
                AtomicLong sent = new AtomicLong();
                InputStream body = new InputStream() {
                    @Override
                    public int read() {
                        sent.incrementAndGet();
                        return 'x';
                    }

                    @Override
                    public int read(byte[] b, int off, int len) {
                        if (sent.get() >= BIG) {
                            return -1;
                        }
                        int n = (int) Math.min(len, BIG - sent.get());
                        java.util.Arrays.fill(b, off, off + n, (byte) 'x');
                        sent.addAndGet(n);
                        return n;
                    }
                };
                {
                    CompletableFuture<HttpResponse<Void>> upload = client.sendAsync(
                            HttpRequest.newBuilder(URI.create(base + "/upload"))
                                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> body))
                                    .build(),
                            HttpResponse.BodyHandlers.discarding());
                    Socket upstreamSide = accepted.get(10, TimeUnit.SECONDS);
                    for (int i = 0; i < 60; i++) {
                        Thread.sleep(50);
                        peak.accumulateAndGet(bufferMemory(), Math::max);
                    }
                    assertThat(upload).isNotDone();
                    assertThat(sent.get())
                            .as("body bytes the client could send while the upstream read nothing (of %d)", BIG)
                            .isLessThan(BIG / 2);
                    assertThat(peak.get()).as("peak Netty buffer memory").isLessThan(BOUND);
                    upstreamSide.close();
                    upload.cancel(true);
                }
            }
        }
    }
}
