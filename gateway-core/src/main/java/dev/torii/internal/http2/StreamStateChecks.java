package dev.torii.internal.http2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameLogger;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.logging.LogLevel;
import io.netty.util.internal.PlatformDependent;

/**
 * The RFC 9113 section 5.1 errors for HEADERS and DATA on streams that are no longer (or never were) open, which
 * Netty's decoder turns into one stream error ({@code STREAM_CLOSED}) whatever the case:
 *
 * <ul>
 *   <li>HEADERS opening a stream whose id is lower than one the client already opened, never used itself: the
 *       connection error {@code PROTOCOL_ERROR} of section 5.1.1;
 *   <li>HEADERS or DATA on a stream that closed normally (END_STREAM both ways): the connection error
 *       {@code STREAM_CLOSED} of section 5.1 ("closed");
 *   <li>frames on a stream that either side reset recently: left to Netty, a stream error {@code STREAM_CLOSED}
 *       (section 5.1: what the client sends after receiving our RST_STREAM may be in flight and must not end the
 *       connection; what it sends after its own RST_STREAM is a stream error).
 * </ul>
 *
 * <p>It sits where Netty lets a frame be seen before its decoder's state checks: the inbound frame logger (which
 * therefore logs nothing: {@link #isEnabled()} is false). Memory is bounded per connection: the ids of the last
 * {@value #RESETS} reset streams and of the last {@value #GAPS} runs of skipped ids; a stream older than that falls in
 * the "closed normally" case, still a connection error.
 *
 * <p>Not thread-safe: one per connection, on its event loop.
 */
final class StreamStateChecks extends Http2FrameLogger {
    static final int RESETS = 256;
    static final int GAPS = 16;

    private Http2Connection connection;
    private final int[] resets = new int[RESETS];
    private int resetCount;
    /** Runs of client stream ids skipped when a stream opened: {@code [from, to]} pairs, oldest overwritten. */
    private final int[] gaps = new int[2 * GAPS];

    private int gapCount;

    StreamStateChecks() {
        super(LogLevel.TRACE, StreamStateChecks.class);
    }

    /** The connection whose streams are checked, once the codec exists. */
    void connection(Http2Connection connection) {
        this.connection = connection;
    }

    @Override
    public boolean isEnabled() {
        return false;
    }

    @Override
    public void logHeaders(
            Direction direction,
            ChannelHandlerContext ctx,
            int streamId,
            Http2Headers headers,
            int padding,
            boolean endStream) {
        if (direction == Direction.INBOUND) {
            check(streamId, true);
        }
    }

    @Override
    public void logHeaders(
            Direction direction,
            ChannelHandlerContext ctx,
            int streamId,
            Http2Headers headers,
            int streamDependency,
            short weight,
            boolean exclusive,
            int padding,
            boolean endStream) {
        if (direction == Direction.INBOUND) {
            check(streamId, true);
        }
    }

    @Override
    public void logData(
            Direction direction,
            ChannelHandlerContext ctx,
            int streamId,
            ByteBuf data,
            int padding,
            boolean endStream) {
        if (direction == Direction.INBOUND) {
            check(streamId, false);
        }
    }

    @Override
    public void logRstStream(Direction direction, ChannelHandlerContext ctx, int streamId, long errorCode) {
        resets[resetCount++ % RESETS] = streamId;
    }

    private void check(int streamId, boolean headers) {
        Http2Connection c = connection;
        if (c == null || streamId <= 0 || (streamId & 1) == 0 || c.goAwaySent() || c.stream(streamId) != null) {
            return; // Netty's own checks apply (idle, even ids, open streams, streams after our GOAWAY)
        }
        int last = c.remote().lastStreamCreated();
        if (streamId > last) {
            if (headers && streamId > (last == 0 ? 1 : last + 2)) {
                // Ids between the last stream and this one are never to be opened (5.1.1).
                int slot = 2 * (gapCount++ % GAPS);
                gaps[slot] = last == 0 ? 1 : last + 2;
                gaps[slot + 1] = streamId - 2;
            }
            return; // a new stream (HEADERS), or DATA on an idle one: Netty's PROTOCOL_ERROR
        }
        if (wasReset(streamId)) {
            return;
        }
        if (headers && skipped(streamId)) {
            throw connectionError(
                    Http2Error.PROTOCOL_ERROR,
                    "HEADERS opening stream " + streamId + " after stream " + last + " (RFC 9113 5.1.1)");
        }
        throw connectionError(
                Http2Error.STREAM_CLOSED,
                (headers ? "HEADERS" : "DATA") + " on closed stream " + streamId + " (RFC 9113 5.1)");
    }

    private boolean wasReset(int streamId) {
        int n = Math.min(resetCount, RESETS);
        for (int i = 0; i < n; i++) {
            if (resets[i] == streamId) {
                return true;
            }
        }
        return false;
    }

    private boolean skipped(int streamId) {
        int n = Math.min(gapCount, GAPS);
        for (int i = 0; i < n; i++) {
            if (streamId >= gaps[2 * i] && streamId <= gaps[2 * i + 1]) {
                return true;
            }
        }
        return false;
    }

    /** Netty's decoder turns a thrown {@link Http2Exception} into GOAWAY with its code; the logger may not declare it. */
    private static RuntimeException connectionError(Http2Error error, String message) {
        PlatformDependent.throwException(Http2Exception.connectionError(error, "%s", message));
        return new IllegalStateException(message); // not reached
    }
}
