package dev.torii.internal.tcp;

import dev.torii.AttributeKey;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.Connection;
import dev.torii.upstream.Endpoint;
import java.net.InetSocketAddress;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;

/** The engine's {@link Connection}. Confined to the connection's event loop. */
final class DefaultConnection implements Connection {
    private final String listener;
    /** The TCP peer, or the PROXY protocol header's source once a trusted peer's header was read. */
    InetSocketAddress client;

    private final InetSocketAddress local;
    private final Executor loop;
    private final RoutingTable table;
    private Map<AttributeKey<?>, Object> attributes;
    String upstreamName;
    /** The ClientHello's server name, set before CONNECT hooks run on a listener with SNI routing. */
    String sni;

    Endpoint endpointOverride;
    /** Whether CONNECT hooks are still running: the backend choice may change only then. */
    boolean choosing = true;

    DefaultConnection(
            String listener,
            InetSocketAddress client,
            InetSocketAddress local,
            Executor loop,
            RoutingTable table,
            String upstreamName) {
        this.listener = listener;
        this.client = client;
        this.local = local;
        this.loop = loop;
        this.table = table;
        this.upstreamName = upstreamName;
    }

    @Override
    public String listener() {
        return listener;
    }

    @Override
    public InetSocketAddress clientAddress() {
        return client;
    }

    @Override
    public InetSocketAddress localAddress() {
        return local;
    }

    @Override
    public String sni() {
        return sni;
    }

    @Override
    public String upstream() {
        return upstreamName;
    }

    @Override
    public Endpoint endpoint() {
        return endpointOverride;
    }

    private void checkChoosing(String what) {
        if (!choosing) {
            throw new IllegalStateException(
                    what + ": the backend of this connection is chosen already (expected: call it in onConnect)");
        }
    }

    @Override
    public void useUpstream(String name) {
        checkChoosing("useUpstream()");
        if (table.upstream(name) == null) {
            throw new IllegalArgumentException("useUpstream: '" + name + "' (expected one of: "
                    + String.join(", ", table.upstreams().keySet()) + ")");
        }
        upstreamName = name;
        endpointOverride = null;
    }

    @Override
    public void useEndpoint(Endpoint endpoint) {
        checkChoosing("useEndpoint()");
        endpointOverride = Objects.requireNonNull(endpoint, "endpoint");
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T get(AttributeKey<T> key) {
        return attributes == null ? null : (T) attributes.get(key);
    }

    @Override
    public <T> void set(AttributeKey<T> key, T value) {
        if (value == null) {
            if (attributes != null) {
                attributes.remove(key);
            }
            return;
        }
        if (attributes == null) {
            attributes = new IdentityHashMap<>(4);
        }
        attributes.put(key, value);
    }

    @Override
    public Executor executor() {
        return loop;
    }

    @Override
    public String toString() {
        return "Connection(" + listener + " from " + client + ")";
    }
}
