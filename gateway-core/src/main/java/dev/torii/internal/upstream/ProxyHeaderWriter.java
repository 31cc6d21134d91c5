package dev.torii.internal.upstream;

import dev.torii.proxyprotocol.ProxyProtocolVersion;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Starts a new upstream connection with a PROXY protocol header, before any other byte (a TLS ClientHello, an HTTP/2
 * preface, a request). Placed first in the pipeline (next to the socket), it sends the header ahead of the first write
 * that passes it, or when the connection becomes active if nothing was written by then, and removes itself. (A write
 * can come before the activation: Netty completes the connect future, whose listeners may write, before it fires
 * {@code channelActive}.) Without a client (a health check) the header says so: {@code PROXY UNKNOWN} in v1, the
 * {@code LOCAL} command in v2, as HAProxy's {@code check-send-proxy} does.
 *
 * <p>The header message is made only when sent, so a connect that fails leaves nothing to release. Confined to the
 * connection's event loop; one instance per connection.
 */
final class ProxyHeaderWriter extends ChannelDuplexHandler {
    private static final byte[] V1_UNKNOWN = "PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII);

    private final ProxyProtocolVersion version;
    private final InetSocketAddress client;
    private final InetSocketAddress local;
    private boolean sent;

    /**
     * @param version the header's version
     * @param client the client address the header carries, or {@code null} for a connection on Torii's own behalf
     * @param local the address the client reached Torii at (the header's destination), or {@code null}
     */
    ProxyHeaderWriter(ProxyProtocolVersion version, InetSocketAddress client, InetSocketAddress local) {
        this.version = version;
        this.client = client;
        this.local = local;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        sendHeader(ctx);
        ctx.write(msg, promise);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (!sent) {
            sendHeader(ctx);
            ctx.flush();
        }
        ctx.fireChannelActive();
    }

    private void sendHeader(ChannelHandlerContext ctx) {
        if (sent) {
            return;
        }
        sent = true;
        if (version == ProxyProtocolVersion.V1 && (client == null || client.getAddress() == null)) {
            // Netty's encoder cannot write a v1 header without addresses.
            ctx.write(Unpooled.wrappedBuffer(V1_UNKNOWN), ctx.voidPromise());
        } else {
            // Written from this handler, the header passes only the encoder, between this handler and the socket.
            ctx.pipeline().addBefore(ctx.name(), "proxy-protocol-encoder", HAProxyMessageEncoder.INSTANCE);
            ctx.write(header(version, client, local), ctx.voidPromise());
            ctx.pipeline().remove("proxy-protocol-encoder");
        }
        ctx.pipeline().remove(this);
    }

    /** The header for {@code client} reaching Torii at {@code local}; both of one address family, as the format wants. */
    static HAProxyMessage header(ProxyProtocolVersion version, InetSocketAddress client, InetSocketAddress local) {
        HAProxyProtocolVersion v =
                version == ProxyProtocolVersion.V1 ? HAProxyProtocolVersion.V1 : HAProxyProtocolVersion.V2;
        if (client == null || client.getAddress() == null) {
            // v2 only: a v1 header without a client is written as bytes (see sendHeader).
            return new HAProxyMessage(v, HAProxyCommand.LOCAL, HAProxyProxiedProtocol.UNKNOWN, null, null, 0, 0);
        }
        boolean v6 = client.getAddress() instanceof Inet6Address;
        boolean localFits =
                local != null && local.getAddress() != null && local.getAddress() instanceof Inet6Address == v6;
        String dstIp = localFits ? local.getAddress().getHostAddress() : v6 ? "::" : "0.0.0.0";
        return new HAProxyMessage(
                v,
                HAProxyCommand.PROXY,
                v6 ? HAProxyProxiedProtocol.TCP6 : HAProxyProxiedProtocol.TCP4,
                client.getAddress().getHostAddress(),
                dstIp,
                client.getPort(),
                localFits ? local.getPort() : 0);
    }
}
