package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.testing.Http2TestServer;
import dev.torii.testing.NginxBackend;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.ResourceLeakDetector;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/2 flow control through the gateway: a side that does not read stops the other side's bytes at the stream
 * window instead of piling them up in the proxy. Each test pauses one reader for a second while the other side could
 * send the whole body; the gateway's buffer memory (Netty's allocator, sampled) stays far below the body size.
 */
class Http2FlowControlTest {
    private static final Logger log = LoggerFactory.getLogger(Http2FlowControlTest.class);

    private static final long BODY = 256L << 20;
    private static final long BOUND = 16L << 20;

    private final AtomicLong peakBufferMemory = new AtomicLong();
    private final AtomicBoolean sampling = new AtomicBoolean(true);
    private Thread sampler;

    /** Paranoid leak detection records every buffer access, too slow for 256 MiB; leaks still fail the class. */
    @BeforeAll
    static void sampleLeaks() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.SIMPLE);
    }

    @AfterAll
    static void paranoidAgain() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @BeforeEach
    void sample() {
        var metric = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
        sampler = Thread.ofPlatform().daemon().start(() -> {
            while (sampling.get()) {
                peakBufferMemory.accumulateAndGet(metric.usedDirectMemory() + metric.usedHeapMemory(), Math::max);
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    @AfterEach
    void stopSampling() throws InterruptedException {
        sampling.set(false);
        sampler.join();
    }

    @Test
    void aClientThatReadsLateHoldsBackAnHttp2UpstreamsResponse() throws Exception {
        try (var nginx = NginxBackend.start(
                        NginxBackend.Options.defaults().withHttp2().withBigFile(BODY));
                var gateway = Http2UpstreamTest.gateway(nginx, b -> b);
                Socket s = new Socket("127.0.0.1", gateway.address("web").getPort())) {
            s.setSoTimeout(60_000);
            s.setReceiveBufferSize(64 * 1024);
            s.getOutputStream().write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            String head = readHead(in);
            assertThat(head).startsWith("HTTP/1.1 200").contains("content-length: " + BODY);
            Thread.sleep(1000); // the slow reader; nginx could send all of it meanwhile
            byte[] buf = new byte[1 << 16];
            long got = 0;
            boolean patternOk = true;
            while (got < BODY) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, BODY - got));
                assertThat(n).as("stream ended after %d bytes", got).isPositive();
                for (int i = 0; i < n && patternOk; i += 4099) {
                    patternOk = buf[i] == (byte) ('a' + (got + i) % (1 << 16) % 26);
                }
                got += n;
            }
            assertThat(patternOk).as("bytes arrive unchanged and in order").isTrue();
        }
        log.info("download: peak Netty buffer memory {} bytes", peakBufferMemory.get());
        assertThat(peakBufferMemory.get()).isPositive().isLessThan(BOUND);
    }

    @Test
    void anHttp2UpstreamThatReadsLateHoldsBackTheClientsUpload() throws Exception {
        CRC32 expected = new CRC32();
        try (var server = Http2TestServer.start(1000);
                var gateway = Http2UpstreamTest.gateway(Upstream.builder("app")
                        .endpoint(server.endpoint())
                        .protocol(UpstreamProtocol.H2C)
                        .build());
                Socket s = new Socket("127.0.0.1", gateway.address("web").getPort())) {
            s.setSoTimeout(60_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + BODY + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] block = new byte[1 << 20];
            for (int i = 0; i < block.length; i++) {
                block[i] = (byte) (i * 31 + 7);
            }
            for (long sent = 0; sent < BODY; sent += block.length) {
                out.write(block);
                expected.update(block);
            }
            out.flush();
            String response = readHead(s.getInputStream());
            assertThat(response).startsWith("HTTP/1.1 200");
            int len = Integer.parseInt(response.replaceAll("(?is).*content-length: *(\\d+).*", "$1"));
            String body = new String(s.getInputStream().readNBytes(len), StandardCharsets.US_ASCII);
            assertThat(body).isEqualTo(BODY + " " + expected.getValue());
        }
        log.info("upload: peak Netty buffer memory {} bytes", peakBufferMemory.get());
        assertThat(peakBufferMemory.get()).isPositive().isLessThan(BOUND);
    }

    private static String readHead(InputStream in) throws java.io.IOException {
        var sb = new StringBuilder();
        while (!sb.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            sb.append((char) c);
        }
        return sb.toString();
    }
}
