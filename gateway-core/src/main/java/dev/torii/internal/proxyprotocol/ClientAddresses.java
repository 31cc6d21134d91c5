package dev.torii.internal.proxyprotocol;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;

/**
 * The one source of a connection's client address: the source address of the PROXY protocol header a trusted peer
 * sent ({@link ProxyProtocolHandler}), else the TCP peer. Everything that keys, logs or forwards by client address asks
 * here (HTTP exchanges, their HTTP/2 streams, TCP connections). Thread-safe (channel attributes are).
 */
public final class ClientAddresses {
    /** The client address carried by a PROXY header; absent on direct connections. */
    static final AttributeKey<InetSocketAddress> PROXIED = AttributeKey.valueOf("torii.proxiedClientAddress");

    private ClientAddresses() {}

    /** The client address of {@code ch} (an accepted connection or an HTTP/2 stream of one), or {@code null}. */
    public static InetSocketAddress of(Channel ch) {
        Channel connection = ch instanceof Http2StreamChannel && ch.parent() != null ? ch.parent() : ch;
        InetSocketAddress proxied = connection.attr(PROXIED).get();
        if (proxied != null) {
            return proxied;
        }
        return connection.remoteAddress() instanceof InetSocketAddress a ? a : null;
    }

    /** Whether {@code ch}'s client address came from a PROXY header. */
    public static boolean isProxied(Channel ch) {
        Channel connection = ch instanceof Http2StreamChannel && ch.parent() != null ? ch.parent() : ch;
        return connection.attr(PROXIED).get() != null;
    }
}
