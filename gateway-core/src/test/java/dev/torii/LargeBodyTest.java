package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.Upstream;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ResourceLeakDetector;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A 1 GiB upload and a 1 GiB download pass through the gateway byte for byte, while the gateway's buffer memory stays
 * bounded: bodies are streamed with backpressure, never held whole.
 */
class LargeBodyTest {
    private static final long GIB = 1L << 30;
    private static final long BOUND = 64L << 20;
    /** Byte i of the download is i % 251: a slice of this array at offset (position % 251). */
    private static final byte[] PATTERN = new byte[64 * 1024 + 251];

    static {
        for (int i = 0; i < PATTERN.length; i++) {
            PATTERN[i] = (byte) (i % 251);
        }
    }

    private EventLoopGroup group;
    private Channel upstream;
    private Gateway gateway;
    private final AtomicLong peakBufferMemory = new AtomicLong();
    private final AtomicBoolean sampling = new AtomicBoolean(true);
    private Thread sampler;

    /** An upstream that answers POST with "<bytes> <crc32>" of the body and GET /bytes/N with N pattern bytes. */
    private static final class BulkHandler extends SimpleChannelInboundHandler<HttpObject> {
        private final CRC32 crc = new CRC32();
        private long received;
        private long toSend;
        private long sent;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpRequest req) {
                received = 0;
                crc.reset();
                if (req.uri().startsWith("/bytes/")) {
                    toSend = Long.parseLong(req.uri().substring(7));
                    sent = 0;
                }
            }
            if (msg instanceof HttpContent c) {
                if (received == 0 && toSend == 0 && c.content().isReadable()) {
                    // Stop reading for a moment: a proxy without backpressure would now pile the client's bytes up.
                    ctx.channel().config().setAutoRead(false);
                    ctx.executor().schedule(() -> ctx.channel().config().setAutoRead(true), 500, TimeUnit.MILLISECONDS);
                }
                ByteBuf b = c.content();
                received += b.readableBytes();
                crc.update(b.nioBuffer());
                if (msg instanceof LastHttpContent) {
                    if (toSend > 0) {
                        var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                        HttpUtil.setContentLength(head, toSend);
                        ctx.writeAndFlush(head);
                        pump(ctx);
                    } else {
                        byte[] body = (received + " " + crc.getValue()).getBytes(StandardCharsets.US_ASCII);
                        var r = new DefaultFullHttpResponse(
                                HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(body));
                        HttpUtil.setContentLength(r, body.length);
                        ctx.writeAndFlush(r);
                    }
                }
            }
        }

        /** Writes while the channel is writable: the upstream itself respects backpressure. */
        private void pump(ChannelHandlerContext ctx) {
            while (sent < toSend && ctx.channel().isWritable()) {
                int n = (int) Math.min(64 * 1024, toSend - sent);
                ByteBuf chunk = ctx.alloc().buffer(n);
                chunk.writeBytes(PATTERN, (int) (sent % 251), n);
                sent += n;
                ctx.write(
                        sent == toSend
                                ? new io.netty.handler.codec.http.DefaultLastHttpContent(chunk)
                                : new DefaultHttpContent(chunk));
            }
            ctx.flush();
            if (sent == toSend) {
                toSend = 0;
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && toSend > 0) {
                pump(ctx);
            }
        }
    }

    /**
     * Paranoid leak detection records every buffer access, which turns 2 GiB of traffic into many minutes; this class
     * samples instead (leaks still fail it, through the same listener).
     */
    @BeforeAll
    static void sampleLeaks() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.SIMPLE);
    }

    @AfterAll
    static void paranoidAgain() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @BeforeEach
    void start() {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        upstream = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec()).addLast(new BulkHandler());
                    }
                })
                .bind("127.0.0.1", 0)
                .syncUninterruptibly()
                .channel();
        int port = ((InetSocketAddress) upstream.localAddress()).getPort();
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("bulk")
                                .endpoint("127.0.0.1:" + port)
                                .build())
                        .route(Route.builder("all").upstream("bulk").build())
                        .build())
                .ioThreads(1)
                .build()
                .start();
        // Netty 4.2 allocates with its adaptive allocator by default; both it and the pooled one report their usage.
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
    void stop() throws InterruptedException {
        sampling.set(false);
        sampler.join();
        gateway.close();
        upstream.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void aOneGibibyteUploadStreamsThroughWithBoundedMemory() throws Exception {
        CRC32 expected = new CRC32();
        try (Socket s = new Socket("127.0.0.1", gateway.address("web").getPort())) {
            s.setSoTimeout(120_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + GIB + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] block = new byte[1 << 20];
            for (int i = 0; i < block.length; i++) {
                block[i] = (byte) (i * 31 + 7);
            }
            for (long sent = 0; sent < GIB; sent += block.length) {
                out.write(block);
                expected.update(block);
            }
            out.flush();
            String response = readResponse(s.getInputStream());
            assertThat(response).startsWith("HTTP/1.1 200").endsWith(GIB + " " + expected.getValue());
        }
        assertThat(peakBufferMemory.get())
                .as("peak Netty buffer memory (the sampler saw the transfer, and it stayed bounded)")
                .isPositive()
                .isLessThan(BOUND);
    }

    @Test
    void aOneGibibyteDownloadStreamsThroughWithBoundedMemory() throws Exception {
        try (Socket s = new Socket("127.0.0.1", gateway.address("web").getPort())) {
            s.setSoTimeout(120_000);
            s.getOutputStream()
                    .write(("GET /bytes/" + GIB + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            String head = readHead(in);
            assertThat(head).startsWith("HTTP/1.1 200").contains("content-length: " + GIB);
            // Stop reading for a moment: a proxy without backpressure would now pile the upstream's bytes up.
            Thread.sleep(500);
            byte[] buf = new byte[1 << 16];
            long got = 0;
            boolean patternOk = true;
            while (got < GIB) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, GIB - got));
                assertThat(n).as("stream ended after %d bytes", got).isPositive();
                for (int i = 0; i < n && patternOk; i += 4099) {
                    patternOk = buf[i] == (byte) ((got + i) % 251);
                }
                got += n;
            }
            assertThat(patternOk).as("bytes arrive unchanged and in order").isTrue();
            assertThat(got).isEqualTo(GIB);
        }
        assertThat(peakBufferMemory.get())
                .as("peak Netty buffer memory (the sampler saw the transfer, and it stayed bounded)")
                .isPositive()
                .isLessThan(BOUND);
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

    private static String readResponse(InputStream in) throws java.io.IOException {
        String head = readHead(in);
        int i = head.toLowerCase().indexOf("content-length: ");
        int len =
                Integer.parseInt(head.substring(i + 16, head.indexOf("\r\n", i)).strip());
        return head + new String(in.readNBytes(len), StandardCharsets.US_ASCII);
    }
}
