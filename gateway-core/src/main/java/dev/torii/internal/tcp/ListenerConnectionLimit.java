package dev.torii.internal.tcp;

import dev.torii.ConnectionGuard;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The per-listener connection limits ({@link dev.torii.ListenerOptions#maxConnections()}) of HTTP, HTTPS and TCP
 * listeners, as a guard at accept: a listener's connection over its limit is closed before TLS, HTTP parsing or a
 * backend. Thread-safe (one atomic counter per limited listener).
 */
public final class ListenerConnectionLimit implements ConnectionGuard {
    private final Map<String, Integer> limits;
    private final Map<String, AtomicInteger> open;

    /** Limits by listener name (listeners without a limit left out). */
    public ListenerConnectionLimit(Map<String, Integer> limits) {
        this.limits = Map.copyOf(limits);
        this.open = limits.keySet().stream()
                .collect(java.util.stream.Collectors.toUnmodifiableMap(k -> k, k -> new AtomicInteger()));
    }

    @Override
    public boolean admit(String listener, InetSocketAddress client) {
        AtomicInteger count = open.get(listener);
        if (count == null) {
            return true;
        }
        if (count.incrementAndGet() > limits.get(listener)) {
            count.decrementAndGet();
            return false;
        }
        return true;
    }

    @Override
    public void closed(String listener, InetSocketAddress client) {
        AtomicInteger count = open.get(listener);
        if (count != null) {
            count.decrementAndGet();
        }
    }

    /** Connections open now on {@code listener} (0 for one without a limit). */
    public int open(String listener) {
        AtomicInteger count = open.get(listener);
        return count == null ? 0 : count.get();
    }
}
