package dev.torii.dns.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves DNS over one UDP socket: each datagram is answered from the {@link QueryResponder}. Hits are written as they
 * are read and flushed once per read batch (with epoll, a {@code recvmmsg} batch answered by one {@code sendmmsg});
 * answers that wait for an upstream are queued as they arrive and written by one task per burst with one flush. A response the socket cannot take now (the channel
 * is not writable) is dropped and counted rather than queued: memory stays bounded under a flood, and the client
 * retries as it would after any lost datagram.
 */
public final class UdpHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    private static final Logger log = LoggerFactory.getLogger(UdpHandler.class);

    private final QueryResponder responder;
    private final ServerCounters counters;
    /** Answers that came back from upstream, waiting for the channel's loop to write them. */
    private final Queue<DatagramPacket> outbox = new ConcurrentLinkedQueue<>();

    private final AtomicBoolean drainScheduled = new AtomicBoolean();

    public UdpHandler(QueryResponder responder, ServerCounters counters) {
        super(true); // the datagram is released after channelRead0
        this.responder = responder;
        this.counters = counters;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
        InetSocketAddress sender = packet.sender();
        Channel channel = ctx.channel();
        ByteBuf response = responder.respond(
                packet.content(), sender.getAddress(), false, ctx.alloc(), r -> sendLater(channel, r, sender));
        if (response != null && response != QueryResponder.PENDING) {
            if (channel.isWritable()) {
                ctx.write(new DatagramPacket(response, sender), ctx.voidPromise());
            } else {
                response.release();
                counters.dropped.increment();
            }
        }
    }

    private void sendLater(Channel channel, ByteBuf response, InetSocketAddress sender) {
        if (!channel.isActive()) {
            response.release();
            counters.dropped.increment();
            return;
        }
        // From the upstream transport's thread, one answer at a time: queued, and written by one task on the channel's
        // loop per burst with one flush (epoll: one sendmmsg), instead of a task, a wake-up and a sendto per answer.
        outbox.add(new DatagramPacket(response, sender));
        if (drainScheduled.compareAndSet(false, true)) {
            try {
                channel.eventLoop().execute(() -> drain(channel));
            } catch (RejectedExecutionException e) {
                drainScheduled.set(false);
                discard();
            }
        }
    }

    /**
     * Writes what the outbox holds, on the channel's loop. The flag is cleared before the queue is read: an answer
     * added after that point either is seen by this pass or schedules the next one, never neither.
     */
    private void drain(Channel channel) {
        drainScheduled.set(false);
        boolean wrote = false;
        for (DatagramPacket p; (p = outbox.poll()) != null; ) {
            if (channel.isActive() && channel.isWritable()) {
                channel.write(p, channel.voidPromise());
                wrote = true;
            } else {
                p.release();
                counters.dropped.increment();
            }
        }
        if (wrote) {
            channel.flush();
        }
    }

    private void discard() {
        for (DatagramPacket p; (p = outbox.poll()) != null; ) {
            p.release();
            counters.dropped.increment();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        discard(); // an answer that arrives after this is dropped by sendLater's isActive check or by the closed loop
        super.channelInactive(ctx);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A UDP socket stays open whatever one datagram did (e.g. ICMP port unreachable surfacing as an error).
        log.debug("DNS UDP socket {}: {}", ctx.channel().localAddress(), cause.toString());
    }
}
