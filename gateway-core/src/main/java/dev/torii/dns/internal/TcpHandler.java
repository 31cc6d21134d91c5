package dev.torii.dns.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves DNS over one TCP connection (RFC 7766): messages framed by a two-byte length (the frame decoder before this
 * handler strips it; responses carry their own), any number per connection, answered as they are ready, so a hit
 * may overtake a miss (clients match responses by ID). At most {@link #MAX_PENDING} queries of a connection wait for
 * upstream answers; beyond that, and while the connection is not writable, reading stops. An idle connection (no
 * reads or writes for the idle timeout) with nothing pending is closed.
 */
public final class TcpHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TcpHandler.class);

    /** Queries of one connection that may wait for upstream answers before reading stops. */
    public static final int MAX_PENDING = 100;

    private final QueryResponder responder;
    private final ServerCounters counters;
    private final int maxConnections;
    private int pending; // on the event loop only
    private boolean counted;

    public TcpHandler(QueryResponder responder, ServerCounters counters, int maxConnections) {
        this.responder = responder;
        this.counters = counters;
        this.maxConnections = maxConnections;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (counters.tcpConnections.incrementAndGet() > maxConnections) {
            counters.tcpConnections.decrementAndGet();
            counters.tcpRejected.increment();
            ctx.close();
            return;
        }
        counted = true;
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (counted) {
            counted = false;
            counters.tcpConnections.decrementAndGet();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf frame)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            Channel channel = ctx.channel();
            ByteBuf response = responder.respond(
                    frame,
                    ((InetSocketAddress) channel.remoteAddress()).getAddress(),
                    true,
                    ctx.alloc(),
                    r -> later(ctx, channel, r));
            if (response == QueryResponder.PENDING) {
                pending++;
            } else if (response != null) {
                ctx.write(response, ctx.voidPromise());
            }
        } finally {
            frame.release();
        }
    }

    /** From the cache's thread: back to the connection's event loop, or released when that is gone. */
    private void later(ChannelHandlerContext ctx, Channel channel, ByteBuf response) {
        try {
            channel.eventLoop().execute(() -> answered(ctx, response));
        } catch (RejectedExecutionException e) {
            response.release(); // the server is closing
        }
    }

    private void answered(ChannelHandlerContext ctx, ByteBuf response) {
        pending--;
        if (ctx.channel().isActive()) {
            ctx.writeAndFlush(response, ctx.voidPromise());
        } else {
            response.release();
        }
        readIfAllowed(ctx);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
        readIfAllowed(ctx);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        readIfAllowed(ctx);
        ctx.fireChannelWritabilityChanged();
    }

    private void readIfAllowed(ChannelHandlerContext ctx) {
        if (pending < MAX_PENDING && ctx.channel().isWritable()) {
            ctx.read();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            if (pending == 0) {
                ctx.close();
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("DNS TCP connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
