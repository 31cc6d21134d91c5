package dev.torii.internal.upstream;

import dev.torii.internal.tls.ClientTls;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.Upstream;
import io.netty.handler.ssl.SslContext;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The runtime side of an {@link Upstream}: the load balancer's position and the requests in flight per endpoint,
 * shared by every event loop, and the client TLS context of a TLS upstream, built once. A routing-table swap keeps
 * the state of an upstream whose definition did not change. Thread-safe.
 */
public final class UpstreamState {
    /** The upstream's definition. */
    public final Upstream upstream;
    /** The TLS context for connections to this upstream, or null when it is plain TCP. */
    final SslContext sslContext;

    private final Endpoint[] endpoints;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicIntegerArray inFlight;
    private final InetSocketAddress[] literals;

    /** Fresh state for {@code upstream} (load-balancer position and counters at zero). */
    public UpstreamState(Upstream upstream) {
        this.upstream = upstream;
        this.sslContext = ClientTls.contextFor(upstream);
        this.endpoints = upstream.endpoints().toArray(Endpoint[]::new);
        this.inFlight = new AtomicIntegerArray(endpoints.length);
        this.literals = new InetSocketAddress[endpoints.length];
        for (int i = 0; i < endpoints.length; i++) {
            if (endpoints[i].isIpLiteral()) {
                literals[i] = new InetSocketAddress(InetAddress.ofLiteral(endpoints[i].host()), endpoints[i].port());
            }
        }
    }

    /** The socket address of endpoint {@code index} when it is an IP literal (no lookup needed), else null. */
    public InetSocketAddress literalAddress(int index) {
        return literals[index];
    }

    /** The endpoint at {@code index}. */
    public Endpoint endpoint(int index) {
        return endpoints[index];
    }

    /** The number of endpoints. */
    public int size() {
        return endpoints.length;
    }

    /** The endpoint index to use next, never {@code exclude} unless it is the only one (then -1). */
    public int pick(int exclude) {
        int n = endpoints.length;
        if (n == 1) {
            return exclude == 0 ? -1 : 0;
        }
        int start = Math.floorMod(next.getAndIncrement(), n);
        if (upstream.loadBalancing() == LoadBalancing.ROUND_ROBIN) {
            return start == exclude ? (start + 1) % n : start;
        }
        int best = -1;
        int bestLoad = Integer.MAX_VALUE;
        for (int k = 0; k < n; k++) {
            int i = (start + k) % n;
            if (i == exclude) {
                continue;
            }
            int load = inFlight.get(i);
            if (load < bestLoad) {
                best = i;
                bestLoad = load;
            }
        }
        return best;
    }

    /** Counts a request now in flight to endpoint {@code index}. Thread-safe. */
    public void started(int index) {
        inFlight.incrementAndGet(index);
    }

    /** Counts the end of a request to endpoint {@code index}. Thread-safe. */
    public void finished(int index) {
        inFlight.decrementAndGet(index);
    }

    /** Requests in flight to endpoint {@code index} now. */
    int inFlight(int index) {
        return inFlight.get(index);
    }
}
