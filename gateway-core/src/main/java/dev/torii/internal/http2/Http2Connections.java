package dev.torii.internal.http2;

import dev.torii.Http2Limits;
import dev.torii.Limits;
import dev.torii.internal.Engine;
import dev.torii.internal.ProxyHandler;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2PingFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client-side HTTP/2 connections (h2 after ALPN, h2c with prior knowledge or after an HTTP/1.1 upgrade): Netty's frame
 * codec with Torii's {@link Http2Limits}, a multiplexer that gives each stream its own channel with an
 * {@link H2StreamCodec} and a {@link ProxyHandler} (so one stream is one exchange, proxied like an HTTP/1.1 one), and a
 * {@link Guard} for what Netty does not limit: SETTINGS and PING floods, idle connections, graceful drain.
 */
public final class Http2Connections {
    private static final Logger log = LoggerFactory.getLogger(Http2Connections.class);

    private Http2Connections() {}

    /** Netty's frame codec with the gateway's settings and flood limits. */
    static Http2FrameCodec frameCodec(Limits limits, Http2Limits h2) {
        // No ENABLE_PUSH: a server must not send it (push is the server's to use, and Torii never pushes).
        Http2Settings settings = Http2Settings.defaultSettings()
                .maxConcurrentStreams(h2.maxConcurrentStreams())
                .initialWindowSize(h2.initialStreamWindow())
                .maxFrameSize(h2.maxFrameSize())
                .maxHeaderListSize(limits.maxHeaderSize())
                .connectProtocolEnabled(true);
        int floodSeconds = (int) Math.max(1, h2.floodWindow().toSeconds());
        StreamStateChecks streamStates = new StreamStateChecks();
        Http2FrameCodec codec = new ServerCodecBuilder(idleLightConnection())
                .initialSettings(settings)
                .validateHeaders(true)
                .decoderEnforceMaxRstFramesPerWindow(h2.maxResetsPerWindow(), floodSeconds)
                .decoderEnforceMaxSmallContinuationFrames(h2.maxSmallContinuationFrames())
                .decoderEnforceMaxConsecutiveEmptyDataFrames(h2.maxConsecutiveEmptyDataFrames())
                .encoderEnforceMaxQueuedControlFrames(h2.maxQueuedControlFrames())
                .gracefulShutdownTimeoutMillis(limits.shutdownTimeout().toMillis())
                .frameLogger(streamStates)
                .build();
        streamStates.connection(codec.connection());
        return codec;
    }

    /**
     * A server connection whose outbound bytes are shared among streams by Netty's {@link UniformStreamByteDistributor}
     * rather than its default {@code WeightedFairQueueByteDistributor}: Torii does not act on HTTP/2 priorities (RFC
     * 9113 deprecated them), and the weighted distributor keeps a priority tree per connection (two state objects, two
     * priority queues and a map, about 0.6 KiB) even while the connection is idle, which 10,000 idle connections pay for
     * in full. The uniform one keeps a small state per active stream only, and still gives every stream a turn.
     */
    static DefaultHttp2Connection idleLightConnection() {
        DefaultHttp2Connection connection = new DefaultHttp2Connection(true);
        connection
                .remote()
                .flowController(
                        new DefaultHttp2RemoteFlowController(connection, new UniformStreamByteDistributor(connection)));
        return connection;
    }

    /** Netty's server frame codec builder, handed a connection made beforehand ({@link #idleLightConnection()}). */
    private static final class ServerCodecBuilder extends Http2FrameCodecBuilder {
        ServerCodecBuilder(Http2Connection connection) {
            connection(connection);
        }
    }

    /** Turns {@code ch} into an HTTP/2 connection: frame codec, multiplexer, guard; reads on. */
    public static void configure(Channel ch, Engine engine, boolean secure) {
        Http2FrameCodec codec = frameCodec(engine.limits(), engine.http2Limits());
        // Responses of many streams finish in one event-loop turn (each as its upstream read completes): their
        // flushes are folded into one, so they leave in one write (and, with TLS, in as few records as fit).
        ch.pipeline()
                .addLast("flush", new FlushConsolidationHandler(256, true))
                .addLast("h2", codec)
                .addLast(afterCodec(engine, secure, codec));
        readAlways(ch);
    }

    /** The handlers that follow the frame codec: the multiplexer and the guard. */
    static ChannelHandler[] afterCodec(Engine engine, boolean secure, Http2FrameCodec codec) {
        return new ChannelHandler[] {
            new Http2MultiplexHandler(new StreamInitializer(engine, secure)),
            new Guard(engine, engine.http2Limits(), codec)
        };
    }

    /** Every frame must be read (SETTINGS, PING, WINDOW_UPDATE, RST): backpressure is per stream, by flow control. */
    static void readAlways(Channel ch) {
        ch.config().setAutoRead(true);
    }

    /**
     * The flood a connection error of Netty's codec stopped, or {@code null}: Netty enforces the RST, CONTINUATION and
     * empty-DATA limits and says which one only in its message (Netty 4.2's wording; {@code Http2FloodCountingTest}
     * notices a change).
     */
    static Http2Limits.Flood floodOf(Http2Exception e) {
        String m = e.getMessage();
        if (m == null) {
            return null;
        }
        if (m.startsWith("Maximum number of RST frames")) {
            return Http2Limits.Flood.RAPID_RESET;
        }
        if (m.startsWith("Number of small consecutive continuations frames")) {
            return Http2Limits.Flood.CONTINUATION;
        }
        if (m.contains("empty data frames")) {
            return Http2Limits.Flood.EMPTY_DATA;
        }
        return null;
    }

    /** The pipeline of each stream: one exchange, with explicit reads. */
    private static final class StreamInitializer extends ChannelInitializer<Http2StreamChannel> {
        private final Engine engine;
        private final boolean secure;

        StreamInitializer(Engine engine, boolean secure) {
            this.engine = engine;
            this.secure = secure;
        }

        @Override
        protected void initChannel(Http2StreamChannel ch) {
            ch.config().setAutoRead(false);
            ch.pipeline()
                    .addLast("h2-stream", new H2StreamCodec(engine::countMalformedHttp2, secure))
                    .addLast("flow", new FlowControlHandler())
                    .addLast("proxy", new ProxyHandler(engine, secure, true));
            dev.torii.internal.RequestBodyRateHandler.addAfter(ch.pipeline(), "h2-stream", engine, true);
        }
    }

    /**
     * Counts inbound SETTINGS and PING frames per window (GOAWAY ENHANCE_YOUR_CALM past the limit), closes a
     * connection that has had no open stream for the idle timeout, and drains on shutdown.
     */
    static final class Guard extends ChannelInboundHandlerAdapter {
        private final Engine engine;
        private final Http2Limits limits;
        private final Http2FrameCodec codec;
        private ChannelHandlerContext ctx;
        private long windowStart;
        private int controlFrames;
        private long lastStreamActivity;
        private ScheduledFuture<?> idleTimer;
        private boolean closing;

        Guard(Engine engine, Http2Limits limits, Http2FrameCodec codec) {
            this.engine = engine;
            this.limits = limits;
            this.codec = codec;
        }

        private long now() {
            return ctx.executor().ticker().nanoTime();
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            windowStart = now();
            lastStreamActivity = windowStart;
            codec.connection().addListener(new Http2ConnectionAdapter() {
                @Override
                public void onStreamAdded(Http2Stream stream) {
                    lastStreamActivity = now();
                }

                @Override
                public void onStreamClosed(Http2Stream stream) {
                    lastStreamActivity = now();
                }
            });
            scheduleIdleCheck(limits.idleTimeout().toNanos());
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (idleTimer != null) {
                idleTimer.cancel(false);
            }
        }

        private void scheduleIdleCheck(long delayNanos) {
            idleTimer = ctx.executor().schedule(this::checkIdle, delayNanos, TimeUnit.NANOSECONDS);
        }

        private void checkIdle() {
            if (!ctx.channel().isActive()) {
                return;
            }
            Http2Connection connection = codec.connection();
            long idle = limits.idleTimeout().toNanos();
            long due = lastStreamActivity + idle;
            long now = now();
            if (connection.numActiveStreams() == 0 && now >= due) {
                log.debug("HTTP/2 connection {} idle for {} ms: GOAWAY", ctx.channel(), idle / 1_000_000);
                ctx.close();
                return;
            }
            scheduleIdleCheck(Math.max(due - now, idle / 4));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2SettingsFrame) {
                    countControlFrame(Http2Limits.Flood.SETTINGS);
                } else if (msg instanceof Http2PingFrame ping && !ping.ack()) {
                    countControlFrame(Http2Limits.Flood.PING);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void countControlFrame(Http2Limits.Flood kind) {
            long now = now();
            if (now - windowStart >= limits.floodWindow().toNanos()) {
                windowStart = now;
                controlFrames = 0;
            }
            if (++controlFrames > limits.maxControlFramesPerWindow() && !closing) {
                closing = true;
                engine.countHttp2Flood(kind);
                engine.floodLog()
                        .report(
                                kind,
                                ctx.channel().remoteAddress(),
                                "more than " + limits.maxControlFramesPerWindow() + " SETTINGS/PING frames in "
                                        + limits.floodWindow().toSeconds() + " s: GOAWAY ENHANCE_YOUR_CALM");
                ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM))
                        .addListener(f -> ctx.channel().close());
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == Engine.DRAIN) {
                // Netty's close sends GOAWAY and waits (up to the graceful shutdown timeout) for open streams.
                ctx.close();
                return;
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("HTTP/2 connection {} failed: {}", ctx.channel(), cause.toString());
            Http2Exception h2 = Http2CodecUtil.getEmbeddedHttp2Exception(cause);
            if (h2 == null) {
                ctx.close();
                return;
            }
            Http2Limits.Flood flood = floodOf(h2);
            if (flood != null && !closing) {
                closing = true;
                engine.countHttp2Flood(flood);
                engine.floodLog().report(flood, ctx.channel().remoteAddress(), h2.getMessage());
            }
            // An HTTP/2 connection error: the codec sends GOAWAY with its error code and closes after this.
        }
    }
}
