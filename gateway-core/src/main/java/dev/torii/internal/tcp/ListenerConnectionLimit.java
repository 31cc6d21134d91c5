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
    /** Volatile: {@link #limits(Map)} swaps it; the counts below stay. */
    private volatile Map<String, Integer> limits;
    /** Open connections of every listener (limited or not), so a limit a reload sets counts those open already. */
    private final Map<String, AtomicInteger> open = new java.util.concurrent.ConcurrentHashMap<>();

    /** Limits by listener name (listeners without a limit left out). */
    public ListenerConnectionLimit(Map<String, Integer> limits) {
        this.limits = Map.copyOf(limits);
    }

    /**
     * Swaps in {@code next} (limits by listener name) for the accepts from now on (a configuration reload); the
     * counts of open connections stay.
     */
    public void limits(Map<String, Integer> next) {
        this.limits = Map.copyOf(next);
    }

    @Override
    public boolean admit(String listener, InetSocketAddress client) {
        AtomicInteger count = open.computeIfAbsent(listener, k -> new AtomicInteger());
        Integer limit = limits.get(listener);
        if (count.incrementAndGet() > (limit == null ? Integer.MAX_VALUE : limit)) {
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

    /** Connections open now on {@code listener}. */
    public int open(String listener) {
        AtomicInteger count = open.get(listener);
        return count == null ? 0 : count.get();
    }
}
