package dev.torii.internal.proxyprotocol;

import dev.torii.internal.Cidr;
import dev.torii.proxyprotocol.ProxyProtocolAccept;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the PROXY protocol header (v1 or v2) of a connection from a trusted peer and records the client address it
 * carries ({@link ClientAddresses}); then removes itself and Netty's decoder, which passes on the bytes after the
 * header untouched. Fires {@link #DONE} once the address is known, so a handler that must wait for it (a TCP listener's)
 * knows when to go on. A peer that sends no valid header within the timeout is closed.
 *
 * <p>One per connection, on its event loop.
 */
public final class ProxyProtocolHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolHandler.class);

    /** The user event fired when the header was read (or the connection is direct): the client address is known. */
    public static final Object DONE = new Object() {
        @Override
        public String toString() {
            return "ProxyProtocolHandler.DONE";
        }
    };

    private final long timeoutNanos;
    private ScheduledFuture<?> timeout;

    private ProxyProtocolHandler(long timeoutNanos) {
        this.timeoutNanos = timeoutNanos;
    }

    /** The parsed form of an {@link ProxyProtocolAccept}, built once per listener. Immutable. */
    public record Trust(List<Cidr> cidrs, long timeoutNanos) {
        /**
         * The parsed form of {@code accept} ({@code null} for {@code null}). Parsed by the listener's initializer when it
         * is made, not per connection.
         */
        public static Trust of(ProxyProtocolAccept accept) {
            return accept == null
                    ? null
                    : new Trust(
                            Cidr.parseAll(accept.trustedCidrs()),
                            accept.headerTimeout().toNanos());
        }

        boolean trusts(Channel ch) {
            return ch.remoteAddress() instanceof InetSocketAddress peer
                    && peer.getAddress() != null
                    && Cidr.anyContains(cidrs, peer.getAddress());
        }
    }

    /**
     * Puts the header decoder first in {@code ch}'s pipeline when {@code ch}'s peer is trusted.
     *
     * @return whether it did (the client address is known only after {@link #DONE}); false for a direct connection
     */
    public static boolean install(Channel ch, Trust trust) {
        if (trust == null || !trust.trusts(ch)) {
            return false;
        }
        ChannelPipeline p = ch.pipeline();
        p.addFirst("proxy-protocol", new ProxyProtocolHandler(trust.timeoutNanos()));
        p.addFirst("proxy-protocol-decoder", new HAProxyMessageDecoder());
        return true;
    }

    /** Same as {@link #install}, but adds the handlers just before {@code before} (a handler installing them). */
    public static boolean installBefore(ChannelPipeline p, String before, Trust trust) {
        if (trust == null || !trust.trusts(p.channel())) {
            return false;
        }
        p.addBefore(before, "proxy-protocol-decoder", new HAProxyMessageDecoder());
        p.addBefore(before, "proxy-protocol", new ProxyProtocolHandler(trust.timeoutNanos()));
        return true;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        timeout = ctx.executor()
                .schedule(
                        () -> {
                            log.debug("{}: no PROXY protocol header in time; closing", ctx.channel());
                            ctx.close();
                        },
                        timeoutNanos,
                        TimeUnit.NANOSECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HAProxyMessage header)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            if (header.command() == HAProxyCommand.PROXY
                    && header.proxiedProtocol() != HAProxyProxiedProtocol.UNKNOWN
                    && header.sourceAddress() != null) {
                InetSocketAddress client =
                        new InetSocketAddress(InetAddress.ofLiteral(header.sourceAddress()), header.sourcePort());
                ctx.channel().attr(ClientAddresses.PROXIED).set(client);
            }
        } catch (IllegalArgumentException e) {
            log.debug("{}: PROXY header with a bad source address: {}", ctx.channel(), header);
            ctx.close();
            return;
        } finally {
            ReferenceCountUtil.release(header);
        }
        ctx.fireUserEventTriggered(DONE);
        if (!ctx.isRemoved()) {
            ctx.pipeline().remove(this);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("{}: bad PROXY protocol header: {}", ctx.channel(), cause.toString());
        ctx.close();
    }
}
