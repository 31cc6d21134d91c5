package dev.torii.internal.upstream;

import dev.torii.proxyprotocol.ProxyProtocolVersion;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import io.netty.channel.Channel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * The endpoint pools of one loop's {@link ConnectionPool}, keyed by upstream, protocol, endpoint address and TLS name,
 * and, when the upstream sends PROXY protocol headers, by the exchange's origin too: such a connection told the
 * endpoint who its client is, so it serves only exchanges of that client IP (and listener address). Those per-client
 * pools are made on a client's first exchange and dropped by {@link #removeUnused()} once empty, or there would be one
 * per client address ever seen.
 *
 * <p>Confined to the pool's event loop, like the pools it keeps.
 */
final class EndpointPools {
    /** One pool's identity; {@code origin} is null unless the upstream sends PROXY protocol headers. */
    private record Key(
            String upstream, UpstreamProtocol protocol, InetSocketAddress address, String tlsName, Origin origin) {}

    /** Whom a PROXY-protocol connection speaks for: the client's IP and the address the client reached Torii at. */
    private record Origin(InetAddress client, InetSocketAddress local) {}

    private final Map<Key, ConnectionPool.EndpointPool> pools = new HashMap<>();
    /** This loop's in-use and idle counts by upstream name (see {@link UpstreamCounters}). */
    private final Map<String, UpstreamCounters.PoolGauge> gauges;

    EndpointPools(Map<String, UpstreamCounters.PoolGauge> gauges) {
        this.gauges = gauges;
    }

    /**
     * The pool of {@code upstream}'s connections to {@code address} (with {@code tlsName}, or null for plain TCP) for an
     * exchange of {@code client} that reached Torii at {@code local} (either may be null): made when missing. For an
     * upstream that sends PROXY protocol headers it is the pool of that client IP and listener address, and the header
     * of its next connection names this exchange's client (same IP, its port).
     */
    ConnectionPool.EndpointPool get(
            Upstream upstream,
            InetSocketAddress address,
            String tlsName,
            InetSocketAddress client,
            InetSocketAddress local) {
        Origin origin = upstream.proxyProtocol() == null
                ? null
                : new Origin(client != null ? client.getAddress() : null, local);
        ConnectionPool.EndpointPool pool = pools.computeIfAbsent(
                new Key(upstream.name(), upstream.protocol(), address, tlsName, origin),
                k -> new ConnectionPool.EndpointPool(
                        address,
                        tlsName,
                        gauges.computeIfAbsent(k.upstream(), n -> new UpstreamCounters.PoolGauge()),
                        k.origin() != null));
        if (origin != null) {
            pool.client = client;
            pool.local = local;
        }
        return pool;
    }

    /** Adds the PROXY protocol header writer to new connection {@code ch} of {@code pool}, when its upstream sends one. */
    static void addProxyHeader(Channel ch, ConnectionPool.EndpointPool pool) {
        ProxyProtocolVersion version = pool.settings.proxyProtocol();
        if (version != null) {
            ch.pipeline().addLast("proxy-header", new ProxyHeaderWriter(version, pool.client, pool.local));
        }
    }

    /** Drops the per-client pools with nothing open, opening or waiting (see {@link ConnectionPool.EndpointPool#unused}). */
    void removeUnused() {
        pools.values().removeIf(ConnectionPool.EndpointPool::unused);
    }

    /** Every pool. */
    Collection<ConnectionPool.EndpointPool> all() {
        return pools.values();
    }

    /** Connections open or opening to {@code address} (any upstream, protocol, TLS name and origin). */
    int openTo(InetSocketAddress address) {
        int n = 0;
        for (Map.Entry<Key, ConnectionPool.EndpointPool> e : pools.entrySet()) {
            if (e.getKey().address().equals(address)) {
                n += e.getValue().open;
            }
        }
        return n;
    }
}
