package dev.torii.internal.http1;

import dev.torii.internal.tunnel.WebSocketUpgrade;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ByteProcessor;
import java.util.ArrayDeque;
import java.util.List;

/**
 * Netty's HTTP/1.1 server codec with one rule added: a request head with obsolete line folding (a header line that
 * starts with a space or a tab, RFC 9112 section 5.2) is rejected instead of being unfolded. Netty's decoder joins a
 * folded line to the previous value, which RFC 9112 allows, but Torii rejects it like every other ambiguous framing,
 * so a request that two parsers could read differently never reaches an upstream.
 *
 * <p>Like {@code HttpServerCodec}, the encoder knows which responses answer a HEAD request, so that it never writes a
 * body (not even a chunked terminator) for them.
 */
public final class StrictServerCodec
        extends CombinedChannelDuplexHandler<StrictServerCodec.Decoder, StrictServerCodec.Encoder> {
    private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(2);

    /**
     * @param bytesListener told of every inbound buffer before it is decoded (the header read timeout starts at the
     *     first byte of a request), or {@code null}
     */
    public StrictServerCodec(HttpDecoderConfig config, Runnable bytesListener) {
        HttpDecoderConfig compact = CompactTrailers.applyTo(config.clone());
        init(
                new Decoder(compact, config.getMaxInitialLineLength() + config.getMaxHeaderSize() + 4, bytesListener),
                new Encoder());
    }

    /** Scans each request head before Netty decodes it. */
    final class Decoder extends HttpRequestDecoder {
        private final int maxHeadLength;
        private final HeadScanner scanner = new HeadScanner();
        private boolean atHead = true;
        private boolean rejected;
        /** The request being decoded asks for a WebSocket upgrade: stop decoding after it. */
        private boolean upgradeRequested;
        /** Decoding stopped after a WebSocket upgrade request; bytes stay undecoded until {@link #resume()}. */
        private boolean holding;

        private ChannelHandlerContext ctx;

        private final Runnable bytesListener;

        Decoder(HttpDecoderConfig config, int maxHeadLength, Runnable bytesListener) {
            super(config);
            this.maxHeadLength = maxHeadLength;
            this.bytesListener = bytesListener;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            if (bytesListener != null) {
                bytesListener.run();
            }
            super.channelRead(ctx, msg);
        }

        void resume() {
            if (!holding) {
                return;
            }
            holding = false;
            if (ctx != null && internalBuffer().isReadable()) {
                // Decode what arrived meanwhile now: no read may come for it.
                try {
                    channelRead(ctx, Unpooled.EMPTY_BUFFER);
                } catch (Exception e) {
                    ctx.fireExceptionCaught(e);
                }
            }
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
            this.ctx = ctx;
            if (holding) {
                // After a WebSocket upgrade request: what follows is either WebSocket frames (handed on undecoded when
                // the codec is removed) or, if the upgrade is refused, the next request (decoded on resume()).
                return;
            }
            if (rejected) {
                in.skipBytes(in.readableBytes());
                return;
            }
            if (atHead && !scanner.complete) {
                int start = in.readerIndex() + scanner.scanned;
                int length = Math.min(in.writerIndex(), in.readerIndex() + maxHeadLength) - start;
                if (length > 0) {
                    int stop = in.forEachByte(start, length, scanner);
                    scanner.scanned = (stop < 0 ? start + length : stop + 1) - in.readerIndex();
                }
                if (scanner.folded || scanner.doubledSpace) {
                    rejected = true;
                    in.skipBytes(in.readableBytes());
                    var bad = new DefaultFullHttpRequest(
                            HttpVersion.HTTP_1_1, HttpMethod.GET, "/bad-request", Unpooled.EMPTY_BUFFER);
                    bad.setDecoderResult(DecoderResult.failure(new IllegalArgumentException(
                            scanner.folded
                                    ? "obsolete line folding in the request head"
                                    : "more than one space between the parts of the request line")));
                    out.add(bad);
                    return;
                }
                if (!scanner.complete && scanner.scanned < maxHeadLength) {
                    return; // wait for the rest of the head; the header read timeout bounds the wait
                }
            }
            int before = out.size();
            super.decode(ctx, in, out);
            for (int i = before; i < out.size(); i++) {
                Object o = out.get(i);
                if (o instanceof HttpRequest request) {
                    methods.add(request.method());
                    atHead = false;
                    upgradeRequested = !request.decoderResult().isFailure() && WebSocketUpgrade.isRequest(request);
                }
                if (o instanceof LastHttpContent) {
                    atHead = true;
                    scanner.reset();
                    if (upgradeRequested) {
                        upgradeRequested = false;
                        holding = true;
                    }
                }
            }
        }
    }

    /**
     * Whether decoding stopped after a WebSocket upgrade request ({@link WebSocketUpgrade#isRequest}): the bytes
     * after it wait undecoded until {@link #resume()} (the upgrade did not happen) or until the codec is removed (it
     * did, and the bytes are WebSocket frames).
     */
    boolean holding() {
        return inboundHandler().holding;
    }

    /** Decodes on after a WebSocket upgrade request that was not upgraded, starting with the bytes held meanwhile. */
    public void resume() {
        inboundHandler().resume();
    }

    /**
     * Finds the end of a request head (the empty line) and notices a line that starts with a space or a tab after the
     * request line. Leading empty lines (RFC 9112 section 2.2) are skipped. Keeps its state across reads.
     */
    private static final class HeadScanner implements ByteProcessor {
        private static final int BEFORE = 0;
        private static final int IN_LINE = 1;
        private static final int LINE_START = 2;
        private static final int EMPTY_CR = 3;

        int scanned;
        boolean complete;
        boolean folded;
        /**
         * Two spaces in a row in the request line ({@code GET  / HTTP/1.1}): Netty's decoder takes them as one, a
         * stricter parser behind the gateway may not (RFC 9112 section 3: exactly one SP).
         */
        boolean doubledSpace;

        private int state = BEFORE;
        private boolean inRequestLine = true;
        private byte previous;

        void reset() {
            scanned = 0;
            complete = false;
            folded = false;
            doubledSpace = false;
            state = BEFORE;
            inRequestLine = true;
            previous = 0;
        }

        @Override
        public boolean process(byte b) {
            switch (state) {
                case BEFORE -> {
                    if (b != '\r' && b != '\n') {
                        state = IN_LINE;
                        previous = b;
                    }
                }
                case IN_LINE -> {
                    if (b == '\n') {
                        state = LINE_START;
                        inRequestLine = false;
                    } else if (inRequestLine && b == ' ' && previous == ' ') {
                        doubledSpace = true;
                        return false;
                    }
                    previous = b;
                }
                case LINE_START -> {
                    if (b == ' ' || b == '\t') {
                        folded = true;
                        return false;
                    }
                    if (b == '\n') {
                        complete = true;
                        return false;
                    }
                    state = b == '\r' ? EMPTY_CR : IN_LINE;
                }
                default -> {
                    if (b == '\n') {
                        complete = true;
                        return false;
                    }
                    state = IN_LINE; // a bare CR: Netty's strict line parsing rejects it
                }
            }
            return true;
        }
    }

    /** Response encoder that writes no body for responses to HEAD (and none for 1xx, 204, 304). */
    final class Encoder extends HttpResponseEncoder {
        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse msg) {
            if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(msg);
            }
            HttpMethod method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(msg);
        }

        /** The same bytes as Netty's, with one bulk write into the buffer ({@link HeadEncoding}). */
        @Override
        protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
            HeadEncoding.writeHeaders(headers, buf);
        }
    }
}
