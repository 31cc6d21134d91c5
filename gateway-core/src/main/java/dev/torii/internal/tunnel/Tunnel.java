package dev.torii.internal.tunnel;

import dev.torii.ProxyError;
import dev.torii.internal.http1.StrictServerCodec;
import dev.torii.internal.http1.UpstreamCodec;
import dev.torii.internal.http2.H2StreamCodec;
import dev.torii.internal.upstream.UpstreamConnection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.flow.FlowControlHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The opaque byte relay of one WebSocket connection after its upgrade: from then on neither side speaks HTTP, and the
 * gateway moves bytes without looking at them (WebSocket frames, pings and close codes included).
 *
 * <pre>
 *   client ⇄ client end ────────────────── upstream end ⇄ upstream
 *            an HTTP/1.1 connection:        the HTTP/1.1 connection
 *              bytes, FIN = end of input      that answered 101: bytes,
 *            or one HTTP/2 stream (RFC 8441):  FIN = end of input
 *              DATA frames, END_STREAM = end
 * </pre>
 *
 * <p>Reads: a side is read only while its peer is writable. It reads on by itself ({@code AUTO_READ} on, several
 * buffers per wake-up) until a write leaves the peer unwritable; then {@code AUTO_READ} goes off until the peer's
 * {@code channelWritabilityChanged}. For an HTTP/2 stream the peer's
 * writability is the stream's flow-control window, so a slow client holds the upstream back through its window and a
 * slow upstream holds the client back by not returning window. Memory per tunnel is bounded by the two channels'
 * write-buffer high-water marks plus one read each way.
 *
 * <p>Ownership: a buffer read from one end is written to the other end's channel, which releases it; a buffer read
 * after that end can no longer write is released at once.
 *
 * <p>Ends: the end of one side's input (FIN, or END_STREAM) ends the other side's output once everything before it was
 * written (a TCP half-close, an empty DATA frame with END_STREAM; a TLS connection cannot be half-closed and is closed
 * instead). When both inputs ended, or one side is gone, both are closed. A side that fails (a reset connection, a
 * RST_STREAM) closes the other at once, an HTTP/2 stream with {@code CONNECT_ERROR} (RFC 9113 section 8.5). No byte
 * for {@code idleTimeout} in either direction closes both.
 *
 * <p>Life: {@link #takeUpstream} takes the upstream connection from its HTTP codec as soon as the {@code 101} arrives
 * (what it reads until {@link #start} is held, at most one read); {@link #start} takes the client side once the
 * response head was written to it; the {@link Listener} hears once, when both channels are closed. All on the one
 * event loop both channels share.
 */
public final class Tunnel {
    private static final Logger log = LoggerFactory.getLogger(Tunnel.class);

    /** Told once, when both sides of a started tunnel are closed. */
    public interface Listener {
        /**
         * @param fromClient bytes relayed from the client to the upstream
         * @param fromUpstream bytes relayed from the upstream to the client
         * @param error {@link ProxyError#CLIENT_ABORTED} or {@link ProxyError#UPSTREAM_RESET} when a side failed,
         *     else {@code null}
         */
        void tunnelClosed(long fromClient, long fromUpstream, ProxyError error);
    }

    private final Listener listener;
    private final long idleNanos;
    private End upstream;
    private End client;
    private boolean started;
    private boolean finished;
    private ProxyError error;
    private long lastActivity;
    private ScheduledFuture<?> idleTimer;

    private Tunnel(Listener listener, long idleNanos) {
        this.listener = listener;
        this.idleNanos = idleNanos;
    }

    /**
     * Takes {@code upstream} over from its HTTP codec. Call while the {@code 101} is being read: the bytes that the
     * codec read after it are handed to the tunnel when the codec is removed.
     */
    public static Tunnel takeUpstream(Channel upstream, Listener listener, long idleNanos) {
        Tunnel t = new Tunnel(listener, idleNanos);
        ChannelPipeline p = upstream.pipeline();
        t.upstream = new SocketEnd(t, halfClosable(upstream));
        // The new handler first: removing the decoder hands on what it has not decoded, and what it did decode in
        // the same read (the 101's empty end) still goes to the handler after it.
        p.replace(UpstreamConnection.class, "tunnel", t.upstream);
        p.remove(UpstreamCodec.class);
        return t;
    }

    /**
     * Takes the client side over from {@code proxy} (whose response head was written) and starts relaying.
     *
     * @param http2 whether the client side is an HTTP/2 stream (RFC 8441) rather than an HTTP/1.1 connection
     */
    public void start(ChannelHandlerContext proxy, boolean http2) {
        Channel ch = proxy.channel();
        client = http2 ? new StreamEnd(this) : new SocketEnd(this, halfClosable(ch));
        client.peer = upstream;
        upstream.peer = client;
        started = true;
        lastActivity = now();
        ChannelPipeline p = ch.pipeline();
        p.replace(proxy.handler(), "tunnel", client);
        // Removing the HTTP handlers hands on whatever they hold (nothing, unless a client sent early).
        p.remove(FlowControlHandler.class);
        if (http2) {
            p.remove(H2StreamCodec.class);
        } else {
            p.remove(StrictServerCodec.class);
        }
        upstream.flushHeld();
        idleTimer = ch.eventLoop().schedule(this::checkIdle, idleNanos, TimeUnit.NANOSECONDS);
        if (upstream.inactive) {
            endClosed(upstream);
            return;
        }
        if (upstream.inputEnded) {
            upstream.inputEnded = false;
            inputEnded(upstream);
        }
        client.flush();
        client.readOn();
        upstream.readOn();
    }

    private static boolean halfClosable(Channel ch) {
        // TLS has no half-close: its connection is closed instead (close_notify).
        boolean halfClosable = ch instanceof DuplexChannel && ch.pipeline().get(SslHandler.class) == null;
        if (halfClosable) {
            ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        }
        return halfClosable;
    }

    private long now() {
        return upstream.ctx.executor().ticker().nanoTime();
    }

    private void inputEnded(End end) {
        if (end.inputEnded) {
            return;
        }
        end.inputEnded = true;
        if (!started) {
            return; // start() passes it on
        }
        end.peer.endOutput();
        if (end.peer.inputEnded) {
            client.closeAfterWrites();
            upstream.closeAfterWrites();
        }
    }

    private void failed(End end, Throwable cause) {
        if (!(cause instanceof IOException)) {
            log.debug("WebSocket tunnel {} side failed", end == client ? "client" : "upstream", cause);
        }
        end.failed = true;
        end.abort();
    }

    private void endClosed(End end) {
        end.releaseHeld();
        if (!started) {
            return;
        }
        if (end.failed) {
            if (error == null) {
                error = end == client ? ProxyError.CLIENT_ABORTED : ProxyError.UPSTREAM_RESET;
            }
            end.peer.abort();
        } else {
            end.peer.closeAfterWrites();
        }
        if (client.inactive && upstream.inactive && !finished) {
            finished = true;
            if (idleTimer != null) {
                idleTimer.cancel(false);
            }
            listener.tunnelClosed(client.received, upstream.received, error);
        }
    }

    private void checkIdle() {
        if (finished) {
            return;
        }
        long now = now();
        long due = lastActivity + idleNanos;
        if (now >= due) {
            log.debug("WebSocket tunnel idle for {} ms: closing both sides", idleNanos / 1_000_000);
            client.abort();
            upstream.abort();
            return;
        }
        idleTimer = upstream.ctx.executor().schedule(this::checkIdle, due - now, TimeUnit.NANOSECONDS);
    }

    /** One side of the tunnel: the handler that replaced the HTTP handlers on its channel. */
    private abstract static class End extends ChannelInboundHandlerAdapter {
        final Tunnel tunnel;
        ChannelHandlerContext ctx;
        End peer;
        /** Bytes read from this side. */
        long received;
        /** This side will send nothing more. */
        boolean inputEnded;
        /** This side was told that nothing more comes. */
        boolean outputEnded;

        boolean readPaused;
        boolean inactive;
        boolean failed;
        private ChannelFuture lastWrite;
        /** Read before the tunnel started (the upstream side only). */
        private ArrayDeque<ByteBuf> held;

        End(Tunnel tunnel) {
            this.tunnel = tunnel;
        }

        /** The bytes {@code msg} carries, now owned by the caller; or {@code null} (then {@code msg} was released). */
        abstract ByteBuf payload(Object msg);

        /** Whether {@code msg} ends this side's input. */
        abstract boolean endsInput(Object msg);

        /** What to write to this side's channel for {@code bytes}. */
        abstract Object wrap(ByteBuf bytes);

        /** Tells this side that nothing more comes; everything written before was written. */
        abstract void shutdownOutput();

        /** Closes this side at once. */
        abstract void abort();

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            boolean end = endsInput(msg);
            ByteBuf bytes = payload(msg);
            if (bytes != null) {
                if (!bytes.isReadable()) {
                    bytes.release();
                } else if (!tunnel.started) {
                    received += bytes.readableBytes();
                    if (held == null) {
                        held = new ArrayDeque<>(4);
                    }
                    held.addLast(bytes);
                } else {
                    received += bytes.readableBytes();
                    tunnel.lastActivity = tunnel.now();
                    peer.write(bytes);
                    if (!peer.ctx.channel().isWritable()) {
                        pause();
                    }
                }
            }
            if (end) {
                tunnel.inputEnded(this);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (tunnel.started) {
                peer.flush();
                if (!readPaused && !peer.ctx.channel().isWritable()) {
                    pause();
                }
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && peer != null && peer.readPaused) {
                peer.readPaused = false;
                peer.readOn();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                tunnel.inputEnded(this);
            } else if (evt instanceof Http2ResetFrame) {
                // The client reset the stream: no RST goes back; the upstream side is closed at once.
                failed = true;
                ctx.close();
            }
            // Engine.DRAIN (shutdown) changes nothing: like a TCP listener's connection, a tunnel has no point where it
            // could stop cleanly, so it runs until it ends or the shutdown deadline closes it.
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            inactive = true;
            tunnel.endClosed(this);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            tunnel.failed(this, cause);
        }

        /**
         * Reads on while the peer is writable, unless this side ended. Reading is automatic from here until the peer
         * cannot take more ({@link #pause}): a socket then reads several buffers per wake-up, as it would with
         * {@code AUTO_READ} on, but never past the peer's high-water mark plus one read.
         */
        void readOn() {
            if (!tunnel.started || inputEnded || inactive) {
                return;
            }
            if (peer.ctx.channel().isWritable()) {
                readPaused = false;
                if (ctx.channel().config().isAutoRead()) {
                    ctx.read();
                } else {
                    ctx.channel().config().setAutoRead(true); // reads at once
                }
            } else {
                pause();
            }
        }

        /** Stops reading until the peer is writable again. */
        void pause() {
            readPaused = true;
            ctx.channel().config().setAutoRead(false);
        }

        void write(ByteBuf bytes) {
            if (outputEnded || inactive) {
                bytes.release();
                return;
            }
            lastWrite = ctx.write(wrap(bytes));
        }

        void flush() {
            if (!inactive) {
                ctx.flush();
            }
        }

        void flushHeld() {
            ArrayDeque<ByteBuf> h = held;
            held = null;
            ByteBuf b;
            while (h != null && (b = h.pollFirst()) != null) {
                peer.write(b);
            }
        }

        void releaseHeld() {
            ArrayDeque<ByteBuf> h = held;
            held = null;
            ByteBuf b;
            while (h != null && (b = h.pollFirst()) != null) {
                b.release();
            }
        }

        void endOutput() {
            if (outputEnded || inactive) {
                return;
            }
            outputEnded = true;
            flush();
            afterWrites(this::shutdownOutput);
        }

        void closeAfterWrites() {
            if (inactive) {
                return;
            }
            flush();
            afterWrites(() -> ctx.close());
        }

        private void afterWrites(Runnable action) {
            ChannelFuture last = lastWrite;
            if (last == null || last.isDone()) {
                action.run();
            } else {
                last.addListener(f -> action.run());
            }
        }
    }

    /** A TCP connection (possibly TLS): bytes both ways; FIN ends the input. */
    private static final class SocketEnd extends End {
        private final boolean halfClosable;

        SocketEnd(Tunnel tunnel, boolean halfClosable) {
            super(tunnel);
            this.halfClosable = halfClosable;
        }

        @Override
        ByteBuf payload(Object msg) {
            if (msg instanceof ByteBuf b) {
                return b;
            }
            // The empty end of the 101 that the removed codec had decoded already.
            ReferenceCountUtil.release(msg);
            return null;
        }

        @Override
        boolean endsInput(Object msg) {
            return false;
        }

        @Override
        Object wrap(ByteBuf bytes) {
            return bytes;
        }

        @Override
        void shutdownOutput() {
            if (halfClosable && ctx.channel() instanceof DuplexChannel d && d.isActive()) {
                d.shutdownOutput();
            } else {
                ctx.close();
            }
        }

        @Override
        void abort() {
            if (!inactive) {
                ctx.close();
            }
        }
    }

    /** One HTTP/2 stream after an RFC 8441 extended CONNECT: DATA frames both ways; END_STREAM ends the input. */
    private static final class StreamEnd extends End {
        StreamEnd(Tunnel tunnel) {
            super(tunnel);
        }

        @Override
        ByteBuf payload(Object msg) {
            if (msg instanceof Http2DataFrame data) {
                return data.content();
            }
            ReferenceCountUtil.release(msg);
            return null;
        }

        @Override
        boolean endsInput(Object msg) {
            return msg instanceof Http2DataFrame d && d.isEndStream()
                    || msg instanceof Http2HeadersFrame h && h.isEndStream();
        }

        @Override
        Object wrap(ByteBuf bytes) {
            return new DefaultHttp2DataFrame(bytes, false);
        }

        @Override
        void shutdownOutput() {
            if (!inactive) {
                ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.EMPTY_BUFFER, true));
            }
        }

        @Override
        void abort() {
            if (!inactive) {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.CONNECT_ERROR));
                ctx.close();
            }
        }
    }
}
