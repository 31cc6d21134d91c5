package dev.torii.internal;

import dev.torii.upstream.Endpoint;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Turns an {@link Endpoint} into a socket address without blocking the event loop. IP literals resolve at once. Host
 * names are looked up with the JVM's resolver on a small daemon thread pool and completed back on the asking loop;
 * the DNS cache ({@code dev.torii.dns}) replaces this with TTL-aware, coalesced, cached lookups.
 */
final class EndpointResolver implements AutoCloseable {
    private final ExecutorService lookups = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "torii-resolve");
        t.setDaemon(true);
        return t;
    });

    Future<InetSocketAddress> resolve(Endpoint endpoint, EventLoop loop) {
        if (endpoint.isIpLiteral()) {
            return loop.newSucceededFuture(
                    new InetSocketAddress(InetAddress.ofLiteral(endpoint.host()), endpoint.port()));
        }
        Promise<InetSocketAddress> promise = loop.newPromise();
        lookups.execute(() -> {
            try {
                InetAddress address = InetAddress.getByName(endpoint.host());
                promise.setSuccess(new InetSocketAddress(address, endpoint.port()));
            } catch (Exception e) {
                promise.setFailure(e);
            }
        });
        return promise;
    }

    @Override
    public void close() {
        lookups.shutdownNow();
    }
}
