package dev.torii.dns.internal;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves DNS over one UDP socket: each datagram is answered from the {@link QueryResponder}. Hits are written as they
 * are read and flushed once per read batch (with epoll, a {@code recvmmsg} batch answered by one {@code sendmmsg});
 * answers that wait for an upstream are flushed when they arrive. A response the socket cannot take now (the channel
 * is not writable) is dropped and counted rather than queued: memory stays bounded under a flood, and the client
 * retries as it would after any lost datagram.
 */
public final class UdpHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    private static final Logger log = LoggerFactory.getLogger(UdpHandler.class);

    private final QueryResponder responder;
    private final ServerCounters counters;

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
        if (channel.isActive() && channel.isWritable()) {
            // From a cache thread: Netty runs the write on the channel's event loop.
            channel.writeAndFlush(new DatagramPacket(response, sender), channel.voidPromise());
        } else {
            response.release();
            counters.dropped.increment();
        }
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
