package dev.torii.benchmarks;

import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.Upstream;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * WebSocket echo through Torii against the same echo server direct, in one run: sequential round trips of a small
 * message (the latency the tunnel adds) and 1 MiB binary messages (its throughput), with the JDK's WebSocket client
 * (HTTP/1.1 Upgrade) and Netty's RFC 6455 server. Prints the median of several alternating rounds; not a JMH benchmark
 * (a round is seconds long and opens real connections), and never a test assertion.
 *
 * <pre>
 * java -cp gateway-benchmarks/target/benchmarks.jar dev.torii.benchmarks.WebSocketEchoRoundTrips [rounds]
 * </pre>
 */
public final class WebSocketEchoRoundTrips {
    private static final int SMALL_ROUND_TRIPS = 5_000;
    private static final int BIG_MESSAGES = 64;
    private static final int MIB = 1 << 20;

    private WebSocketEchoRoundTrips() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        Channel server = echoServer(group);
        int echoPort = ((InetSocketAddress) server.localAddress()).getPort();
        Gateway gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("echo")
                                .endpoint("127.0.0.1:" + echoPort)
                                .build())
                        .route(Route.builder("all").upstream("echo").build())
                        .build())
                .ioThreads(1)
                .build()
                .start();
        URI direct = URI.create("ws://127.0.0.1:" + echoPort + "/echo");
        URI proxied = URI.create("ws://127.0.0.1:" + gateway.address("web").getPort() + "/echo");
        try {
            // Warm-up: both paths, one round each.
            smallRoundTrips(direct);
            smallRoundTrips(proxied);
            bigMessages(direct);
            bigMessages(proxied);
            var smallDirect = new ArrayList<Double>();
            var smallProxied = new ArrayList<Double>();
            var bigDirect = new ArrayList<Double>();
            var bigProxied = new ArrayList<Double>();
            for (int r = 0; r < rounds; r++) {
                smallDirect.add(smallRoundTrips(direct));
                smallProxied.add(smallRoundTrips(proxied));
                bigDirect.add(bigMessages(direct));
                bigProxied.add(bigMessages(proxied));
            }
            System.out.printf(
                    "32-byte text round trips/s, median (min-max) of %d rounds: direct %s, through Torii %s%n",
                    rounds, summary(smallDirect), summary(smallProxied));
            System.out.printf(
                    "1 MiB binary messages echoed, MiB/s each way, median (min-max) of %d rounds: direct %s, "
                            + "through Torii %s%n",
                    rounds, summary(bigDirect), summary(bigProxied));
        } finally {
            gateway.close();
            server.close().syncUninterruptibly();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static String summary(List<Double> values) {
        double min = values.stream().mapToDouble(Double::doubleValue).min().orElse(0);
        double max = values.stream().mapToDouble(Double::doubleValue).max().orElse(0);
        return String.format("%.0f (%.0f-%.0f)", median(values), min, max);
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** Round trips per second of a 32-byte text message, one at a time. */
    private static double smallRoundTrips(URI uri) throws Exception {
        var replies = new SynchronousQueue<Object>();
        WebSocket ws = connect(uri, replies);
        String message = "x".repeat(32);
        long start = System.nanoTime();
        for (int i = 0; i < SMALL_ROUND_TRIPS; i++) {
            ws.sendText(message, true).join();
            replies.take();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "").join();
        return SMALL_ROUND_TRIPS / seconds;
    }

    /** MiB per second echoed, 1 MiB binary messages, sent and received concurrently. */
    private static double bigMessages(URI uri) throws Exception {
        var replies = new SynchronousQueue<Object>();
        WebSocket ws = connect(uri, replies);
        byte[] payload = new byte[MIB];
        long start = System.nanoTime();
        CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
            for (int i = 0; i < BIG_MESSAGES; i++) {
                ws.sendBinary(ByteBuffer.wrap(payload), true).join();
            }
        });
        for (int i = 0; i < BIG_MESSAGES; i++) {
            replies.take();
        }
        sender.join();
        double seconds = (System.nanoTime() - start) / 1e9;
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "").join();
        return BIG_MESSAGES / seconds;
    }

    private static WebSocket connect(URI uri, SynchronousQueue<Object> replies) throws Exception {
        return HttpClient.newHttpClient()
                .newWebSocketBuilder()
                .buildAsync(uri, new WebSocket.Listener() {
                    private int binaryBytes;

                    @Override
                    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                        ws.request(1);
                        if (last) {
                            put(replies, data);
                        }
                        return null;
                    }

                    @Override
                    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                        ws.request(1);
                        binaryBytes += data.remaining();
                        if (last) {
                            put(replies, binaryBytes);
                            binaryBytes = 0;
                        }
                        return null;
                    }
                })
                .get(10, TimeUnit.SECONDS);
    }

    private static void put(SynchronousQueue<Object> q, Object o) {
        try {
            q.put(o);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Channel echoServer(EventLoopGroup group) {
        WebSocketServerProtocolConfig config = WebSocketServerProtocolConfig.newBuilder()
                .websocketPath("/echo")
                .decoderConfig(WebSocketDecoderConfig.newBuilder()
                        .maxFramePayloadLength(2 * MIB)
                        .build())
                .build();
        return new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline()
                                .addLast(new HttpServerCodec())
                                .addLast(new HttpObjectAggregator(65536))
                                .addLast(new WebSocketServerProtocolHandler(config))
                                .addLast(new WebSocketFrameAggregator(2 * MIB))
                                .addLast(new SimpleChannelInboundHandler<WebSocketFrame>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
                                        ctx.writeAndFlush(frame.retainedDuplicate());
                                    }
                                });
                    }
                })
                .bind("127.0.0.1", 0)
                .syncUninterruptibly()
                .channel();
    }
}
