package dev.torii;

import java.time.Duration;

/**
 * What an HTTP/2 client may do on one connection, and the flood limits that protect the gateway from the known
 * HTTP/2 attacks. A connection that crosses a flood limit is closed with {@code GOAWAY ENHANCE_YOUR_CALM} (Netty's
 * codec enforces the RST, CONTINUATION and empty-DATA limits; Torii counts SETTINGS and PING itself), so other
 * clients keep being served. Immutable; build with {@link #builder()}.
 *
 * <p>The header list size of a request is limited by {@link Limits#maxHeaderSize()} (HPACK-decoded size, so a
 * compression bomb stops there), and a stream that sends nothing for {@link Limits#idleTimeout()} while its request
 * body is expected is reset, as an HTTP/1.1 connection would be closed.
 *
 * @param maxConcurrentStreams {@code SETTINGS_MAX_CONCURRENT_STREAMS}: streams a client may have open at once
 * @param initialStreamWindow the receive window of each stream, in bytes: how much request body the gateway buffers
 *     per stream before the client must wait
 * @param connectionWindow the receive window of the whole connection, in bytes
 * @param maxFrameSize {@code SETTINGS_MAX_FRAME_SIZE} the gateway accepts (16384-16777215)
 * @param maxResetsPerWindow RST_STREAM frames a client may send per {@code floodWindow} (rapid reset,
 *     CVE-2023-44487)
 * @param maxControlFramesPerWindow SETTINGS and PING frames a client may send per {@code floodWindow}
 * @param floodWindow the window the two limits above count in
 * @param maxSmallContinuationFrames CONTINUATION frames smaller than 8 KiB allowed in one header block (CONTINUATION
 *     flood)
 * @param maxConsecutiveEmptyDataFrames DATA frames with no payload and no END_STREAM in a row
 * @param maxQueuedControlFrames control-frame answers (SETTINGS ACK, PING ACK, RST) queued for a client that does
 *     not read them
 * @param idleTimeout how long a connection may have no open stream before it is closed with GOAWAY
 */
public record Http2Limits(
        int maxConcurrentStreams,
        int initialStreamWindow,
        int connectionWindow,
        int maxFrameSize,
        int maxResetsPerWindow,
        int maxControlFramesPerWindow,
        Duration floodWindow,
        int maxSmallContinuationFrames,
        int maxConsecutiveEmptyDataFrames,
        int maxQueuedControlFrames,
        Duration idleTimeout) {

    /**
     * The HTTP/2 floods whose limits end a connection with {@code GOAWAY ENHANCE_YOUR_CALM}, as counted in
     * {@link GatewayStats#http2FloodsByKind()} and tagged {@code kind} in metrics.
     */
    public enum Flood {
        /** More RST_STREAM frames than {@link #maxResetsPerWindow()} (rapid reset, CVE-2023-44487). */
        RAPID_RESET,
        /** More small CONTINUATION frames than {@link #maxSmallContinuationFrames()} in one header block. */
        CONTINUATION,
        /** More empty DATA frames in a row than {@link #maxConsecutiveEmptyDataFrames()}. */
        EMPTY_DATA,
        /** SETTINGS frames past {@link #maxControlFramesPerWindow()}. */
        SETTINGS,
        /** PING frames past {@link #maxControlFramesPerWindow()}. */
        PING;

        /** The name used as the metrics tag and in logs: {@code rapid_reset}, {@code continuation}, ... */
        public String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public Http2Limits {
        positive("maxConcurrentStreams", maxConcurrentStreams);
        if (initialStreamWindow < 65_535) {
            throw new IllegalArgumentException(
                    "http2 initialStreamWindow: " + initialStreamWindow + " (expected: 65535-2147483647)");
        }
        if (connectionWindow < initialStreamWindow) {
            throw new IllegalArgumentException("http2 connectionWindow: " + connectionWindow
                    + " (expected: >= initialStreamWindow " + initialStreamWindow + ")");
        }
        if (maxFrameSize < 16_384 || maxFrameSize > 16_777_215) {
            throw new IllegalArgumentException("http2 maxFrameSize: " + maxFrameSize + " (expected: 16384-16777215)");
        }
        positive("maxResetsPerWindow", maxResetsPerWindow);
        positive("maxControlFramesPerWindow", maxControlFramesPerWindow);
        if (floodWindow == null || floodWindow.toSeconds() < 1) {
            throw new IllegalArgumentException("http2 floodWindow: " + floodWindow + " (expected: >= 1s)");
        }
        positive("maxSmallContinuationFrames", maxSmallContinuationFrames);
        positive("maxConsecutiveEmptyDataFrames", maxConsecutiveEmptyDataFrames);
        positive("maxQueuedControlFrames", maxQueuedControlFrames);
        if (idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("http2 idleTimeout: " + idleTimeout + " (expected: > 0)");
        }
    }

    private static void positive(String what, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException("http2 " + what + ": " + value + " (expected: > 0)");
        }
    }

    /**
     * 100 streams, 256 KiB per stream and 1 MiB per connection, 16 KiB frames, 200 resets and 200 SETTINGS/PING per
     * 10 s, 16 small CONTINUATION frames, 2 empty DATA frames in a row, 10,000 queued control frames, 60 s idle.
     */
    public static Http2Limits defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link Http2Limits}; starts from the defaults. Not thread-safe. */
    public static final class Builder {
        private int maxConcurrentStreams = 100;
        private int initialStreamWindow = 256 * 1024;
        private int connectionWindow = 1024 * 1024;
        private int maxFrameSize = 16_384;
        private int maxResetsPerWindow = 200;
        private int maxControlFramesPerWindow = 200;
        private Duration floodWindow = Duration.ofSeconds(10);
        private int maxSmallContinuationFrames = 16;
        private int maxConsecutiveEmptyDataFrames = 2;
        private int maxQueuedControlFrames = 10_000;
        private Duration idleTimeout = Duration.ofSeconds(60);

        private Builder() {}

        public Builder maxConcurrentStreams(int streams) {
            this.maxConcurrentStreams = streams;
            return this;
        }

        public Builder initialStreamWindow(int bytes) {
            this.initialStreamWindow = bytes;
            return this;
        }

        public Builder connectionWindow(int bytes) {
            this.connectionWindow = bytes;
            return this;
        }

        public Builder maxFrameSize(int bytes) {
            this.maxFrameSize = bytes;
            return this;
        }

        public Builder maxResetsPerWindow(int resets) {
            this.maxResetsPerWindow = resets;
            return this;
        }

        public Builder maxControlFramesPerWindow(int frames) {
            this.maxControlFramesPerWindow = frames;
            return this;
        }

        public Builder floodWindow(Duration window) {
            this.floodWindow = window;
            return this;
        }

        public Builder maxSmallContinuationFrames(int frames) {
            this.maxSmallContinuationFrames = frames;
            return this;
        }

        public Builder maxConsecutiveEmptyDataFrames(int frames) {
            this.maxConsecutiveEmptyDataFrames = frames;
            return this;
        }

        public Builder maxQueuedControlFrames(int frames) {
            this.maxQueuedControlFrames = frames;
            return this;
        }

        public Builder idleTimeout(Duration timeout) {
            this.idleTimeout = timeout;
            return this;
        }

        public Http2Limits build() {
            return new Http2Limits(
                    maxConcurrentStreams,
                    initialStreamWindow,
                    connectionWindow,
                    maxFrameSize,
                    maxResetsPerWindow,
                    maxControlFramesPerWindow,
                    floodWindow,
                    maxSmallContinuationFrames,
                    maxConsecutiveEmptyDataFrames,
                    maxQueuedControlFrames,
                    idleTimeout);
        }
    }
}
