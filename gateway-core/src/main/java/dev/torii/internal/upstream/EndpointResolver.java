package dev.torii.internal.upstream;

import dev.torii.dns.DnsCache;
import dev.torii.upstream.Endpoint;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Turns an {@link Endpoint} into a socket address without blocking the event loop. IP literals resolve at once. Host
 * names go through the gateway's {@link DnsCache} when it has one (TTL-aware, coalesced, served stale when the DNS
 * servers fail), completing on the asking loop; a name with several addresses is spread over them in turn. Without
 * a cache, names are looked up with the JVM's resolver on a small daemon thread pool.
 */
public final class EndpointResolver implements AutoCloseable {
    private final DnsCache cache;
    private final AtomicInteger rotation = new AtomicInteger();
    private ExecutorService lookups;

    /** Resolves names through {@code cache}. */
    public EndpointResolver(DnsCache cache) {
        this.cache = cache;
    }

    /**
     * The address of {@code endpoint}: at once for an IP literal, else through the DNS cache. The future is one of
     * {@code loop}'s, so its listeners run on that loop.
     */
    public Future<InetSocketAddress> resolve(Endpoint endpoint, EventLoop loop) {
        if (endpoint.isIpLiteral()) {
            return loop.newSucceededFuture(
                    new InetSocketAddress(InetAddress.ofLiteral(endpoint.host()), endpoint.port()));
        }
        Promise<InetSocketAddress> promise = loop.newPromise();
        if (cache != null) {
            cache.resolve(endpoint.host(), loop).whenComplete((addresses, error) -> {
                if (error != null) {
                    promise.setFailure(error);
                } else {
                    promise.setSuccess(new InetSocketAddress(pick(addresses), endpoint.port()));
                }
            });
            return promise;
        }
        jvmLookups().execute(() -> {
            try {
                promise.setSuccess(new InetSocketAddress(InetAddress.getByName(endpoint.host()), endpoint.port()));
            } catch (Exception e) {
                promise.setFailure(e);
            }
        });
        return promise;
    }

    private InetAddress pick(List<InetAddress> addresses) {
        return addresses.size() == 1
                ? addresses.getFirst()
                : addresses.get(Math.floorMod(rotation.getAndIncrement(), addresses.size()));
    }

    private synchronized ExecutorService jvmLookups() {
        if (lookups == null) {
            lookups = Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, "torii-resolve");
                t.setDaemon(true);
                return t;
            });
        }
        return lookups;
    }

    @Override
    public synchronized void close() {
        if (lookups != null) {
            lookups.shutdownNow();
        }
    }
}
