package dev.torii.internal.http2;

import dev.torii.internal.Engine;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * h2c on a clear-text listener, both ways RFC 7540 defined it: prior knowledge (the connection starts with the
 * HTTP/2 client preface; {@link PrefaceDetector}) and the HTTP/1.1 {@code Upgrade: h2c} of a first request without a
 * body (Netty's {@link HttpServerUpgradeHandler}, kept in the pipeline for the first request only by the
 * {@link UpgradeGate}). An upgrade request with a body is served as HTTP/1.1, which RFC 9113 section 3.2 allows.
 */
public final class H2cSupport {
    private static final ByteBuf PREFACE =
            Unpooled.unreleasableBuffer(Http2CodecUtil.connectionPrefaceBuf()).asReadOnly();
    private static final AsciiString H2C = AsciiString.cached("h2c");
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(H2cSupport.class);
    /** The bytes {@code PRI * HTTP/2.0\r\n} that only an HTTP/2 client sends first. */
    private static final int H2_ATTEMPT = 16;
    /** An empty SETTINGS frame (the server preface), then GOAWAY with last stream 0 and PROTOCOL_ERROR. */
    private static final byte[] SETTINGS_AND_GOAWAY_PROTOCOL_ERROR = {
        0, 0, 0, 4, 0, 0, 0, 0, 0, // SETTINGS, empty
        0, 0, 8, 7, 0, 0, 0, 0, 0, // GOAWAY, 8 bytes, stream 0
        0, 0, 0, 0, 0, 0, 0, 1 // last-stream-id 0, PROTOCOL_ERROR
    };

    private H2cSupport() {}

    /** The HTTP/1.1 handlers that an upgrade to h2c needs, placed between the codec and the flow control handler. */
    public static void addUpgradeHandlers(io.netty.channel.ChannelPipeline p, Engine engine) {
        HttpServerUpgradeHandler.SourceCodec source = ctx -> {
            // The HTTP/1.1 side goes; the HTTP/2 handlers are added after the upgrade handler by the upgrade codec.
            ctx.pipeline().remove("codec");
            ctx.pipeline().remove("flow");
            ctx.pipeline().remove("proxy");
            Http2Connections.readAlways(ctx.channel());
        };
        HttpServerUpgradeHandler.UpgradeCodecFactory factory = protocol -> {
            if (!H2C.contentEqualsIgnoreCase(protocol)) {
                return null;
            }
            Http2FrameCodec codec = Http2Connections.frameCodec(engine.limits(), engine.http2Limits());
            return new Http2ServerUpgradeCodec(codec, Http2Connections.afterCodec(engine, false, codec));
        };
        p.addAfter("codec", "h2c-gate", new UpgradeGate())
                .addAfter("h2c-gate", "h2c-upgrade", new HttpServerUpgradeHandler(source, factory, 0));
    }

    /**
     * Looks at the first request: an h2c upgrade without a body goes to the upgrade handler; anything else removes
     * the upgrade handler, so later requests pay nothing for it.
     */
    static final class UpgradeGate extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest request) {
                boolean upgrade = wantsH2c(request)
                        && !hasBody(request)
                        && !request.decoderResult().isFailure();
                if (!upgrade) {
                    ctx.pipeline().remove("h2c-upgrade");
                }
                ctx.pipeline().remove(this);
            }
            ctx.fireChannelRead(msg);
        }

        private static boolean wantsH2c(HttpRequest request) {
            String upgrade = request.headers().get(HttpHeaderNames.UPGRADE);
            if (upgrade == null) {
                return false;
            }
            for (String token : upgrade.split(",")) {
                if (H2C.contentEqualsIgnoreCase(token.strip())) {
                    return true;
                }
            }
            return false;
        }

        private static boolean hasBody(HttpRequest request) {
            return HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
        }
    }

    /**
     * Decides, from the first bytes of a clear-text connection, whether it speaks HTTP/2 with prior knowledge (the
     * 24-byte client preface) or HTTP/1.1, sets the pipeline up for it, and steps aside, passing on what it read.
     */
    public static final class PrefaceDetector extends ByteToMessageDecoder {
        private final Engine engine;
        private boolean decided;

        /** A detector for one new clear-text connection of {@code engine}. */
        public PrefaceDetector(Engine engine) {
            this.engine = engine;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            ctx.read();
            super.channelActive(ctx);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (decided) {
                return;
            }
            int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
            boolean prefixMatches = ByteBufUtil.equals(in, in.readerIndex(), PREFACE, 0, n);
            if (prefixMatches && n < PREFACE.readableBytes()) {
                return; // not enough bytes to tell yet
            }
            decided = true;
            if (prefixMatches) {
                Http2Connections.configure(ctx.channel(), engine, false);
            } else if (in.readableBytes() >= H2_ATTEMPT
                    && ByteBufUtil.equals(in, in.readerIndex(), PREFACE, 0, H2_ATTEMPT)) {
                // "PRI * HTTP/2.0\r\n" and then not the rest of the preface: an HTTP/2 client (or a fuzzer) whose
                // preface is broken, not an HTTP/1.1 request: answer in HTTP/2 (RFC 9113 3.4: PROTOCOL_ERROR).
                log.debug(
                        "broken HTTP/2 preface from {}: GOAWAY PROTOCOL_ERROR",
                        ctx.channel().remoteAddress());
                in.skipBytes(in.readableBytes());
                ctx.writeAndFlush(Unpooled.wrappedBuffer(SETTINGS_AND_GOAWAY_PROTOCOL_ERROR))
                        .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
                return;
            } else {
                engine.initHttp1(ctx.channel(), engine.decoderConfig(), false, true);
            }
            // Removal hands what was read so far to the handlers just added.
            ctx.pipeline().remove(this);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
            if (!decided && !ctx.channel().config().isAutoRead()) {
                ctx.read();
            }
            super.channelReadComplete(ctx);
        }
    }
}
