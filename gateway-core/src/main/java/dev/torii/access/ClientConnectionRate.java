package dev.torii.access;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.torii.ConnectionGuard;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.ListenerOptions;
import dev.torii.ratelimit.Bandwidth;
import dev.torii.ratelimit.internal.LocalBuckets;
import dev.torii.tcp.TcpListener;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.TimeMeter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * At most so many new connections per client IP address and period (nginx {@code limit_req} applied to accepts, HAProxy's
 * {@code sc_conn_rate}): one token bucket per address, a connection over it is closed at accept. A gateway-wide
 * {@link Bandwidth} covers every http, https and tcp listener with one bucket per address; a listener with a rate of its
 * own ({@link dev.torii.ListenerOptions#newConnectionsPerClient()}) counts its connections in buckets of its own
 * instead.
 *
 * <p>The buckets live in a Caffeine cache bounded by {@code maxClients}: a flood from many addresses evicts the least
 * recently seen instead of growing memory (an evicted address starts again with a full bucket, which only ever admits
 * more). A bucket idle long enough to be full again is dropped too. Cache maintenance runs on the calling thread so the
 * bound holds after each accept.
 *
 * <p>Thread-safe (called from every event loop); never blocks.
 */
public final class ClientConnectionRate implements ConnectionGuard {
    /** Addresses kept by default: 100,000 buckets take a few tens of MiB at most. */
    public static final long DEFAULT_MAX_CLIENTS = 100_000;

    /** A bucket's key: the listener with a rate of its own (or null for the gateway-wide rate) and the address. */
    private record Key(String listener, InetAddress address) {}

    private final Bandwidth global;
    private final Map<String, Bandwidth> listeners;
    private final Cache<Object, Bucket> buckets;
    private final TimeMeter meter;
    private final LongAdder refused = new LongAdder();
    private final LongAdder evicted = new LongAdder();

    /**
     * @param global the rate over every listener without one of its own, or {@code null} for none
     * @param listeners rates by listener name, for the listeners that have one of their own
     * @param maxClients the most buckets kept (> 0)
     * @param nanoTime the clock ({@link System#nanoTime()}; a fake one in tests)
     */
    public ClientConnectionRate(
            Bandwidth global, Map<String, Bandwidth> listeners, long maxClients, LongSupplier nanoTime) {
        this.global = global;
        this.listeners = Map.copyOf(listeners);
        if (global == null && this.listeners.isEmpty()) {
            throw new IllegalArgumentException("newConnectionsPerClient: none (expected: a global or a listener rate)");
        }
        if (maxClients <= 0) {
            throw new IllegalArgumentException("maxClients: " + maxClients + " (expected: > 0)");
        }
        Objects.requireNonNull(nanoTime, "nanoTime");
        this.meter = new TimeMeter() {
            @Override
            public long currentTimeNanos() {
                return nanoTime.getAsLong();
            }

            @Override
            public boolean isWallClockBased() {
                return false;
            }
        };
        Duration idle = LocalBuckets.idle(
                List.of(global == null ? this.listeners.values().iterator().next() : global));
        for (Bandwidth b : this.listeners.values()) {
            Duration d = LocalBuckets.idle(List.of(b));
            idle = d.compareTo(idle) > 0 ? d : idle;
        }
        this.buckets = Caffeine.newBuilder()
                .maximumSize(maxClients)
                .expireAfterAccess(idle)
                .ticker(nanoTime::getAsLong)
                .executor(Runnable::run)
                .removalListener((Object k, Bucket b, RemovalCause cause) -> {
                    if (cause == RemovalCause.SIZE) {
                        evicted.increment();
                    }
                })
                .build();
    }

    /** The gateway-wide {@code rate} only, with the default bound and the system clock. */
    public static ClientConnectionRate of(Bandwidth global) {
        return new ClientConnectionRate(
                Objects.requireNonNull(global, "global"), Map.of(), DEFAULT_MAX_CLIENTS, System::nanoTime);
    }

    /**
     * The guard for the gateway-wide {@link Limits#newConnectionsPerClient()} and the listeners' own
     * {@link ListenerOptions#newConnectionsPerClient()}, or empty when none sets a rate.
     */
    public static Optional<ClientConnectionRate> of(
            Limits limits, Collection<Listener> http, Collection<TcpListener> tcp) {
        var own = new HashMap<String, Bandwidth>();
        http.forEach(l -> l.options().newConnectionsPerClient().ifPresent(b -> own.put(l.name(), b)));
        tcp.forEach(l -> l.options().newConnectionsPerClient().ifPresent(b -> own.put(l.name(), b)));
        Bandwidth global = limits.newConnectionsPerClient().orElse(null);
        if (global == null && own.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new ClientConnectionRate(global, own, DEFAULT_MAX_CLIENTS, System::nanoTime));
    }

    @Override
    public boolean admit(String listener, InetSocketAddress client) {
        InetAddress address = client.getAddress();
        if (address == null) {
            return true; // an unresolved peer (never seen on a real socket) has no address to count by
        }
        Bandwidth own = listeners.isEmpty() ? null : listeners.get(listener);
        Bandwidth rate = own != null ? own : global;
        if (rate == null) {
            return true;
        }
        // The gateway-wide buckets are keyed by the address itself: no allocation per accept for the common case.
        Object key = own != null ? new Key(listener, address) : address;
        Bucket bucket = buckets.get(key, k -> newBucket(rate));
        if (bucket.tryConsume(1)) {
            return true;
        }
        refused.increment();
        return false;
    }

    private Bucket newBucket(Bandwidth b) {
        return Bucket.builder()
                .withCustomTimePrecision(meter)
                .addLimit(l -> l.capacity(b.burst()).refillGreedy(b.rate(), b.per()))
                .build();
    }

    @Override
    public String reason() {
        return "new_connections_per_client";
    }

    @Override
    public long refused() {
        return refused.sum();
    }

    /** Buckets evicted to stay within {@code maxClients}. */
    public long evicted() {
        return evicted.sum();
    }

    /** Buckets held now (after pending cache maintenance). */
    public long clients() {
        buckets.cleanUp();
        return buckets.estimatedSize();
    }

    @Override
    public String toString() {
        return "newConnectionsPerClient " + (global == null ? "none" : global)
                + (listeners.isEmpty() ? "" : ", listeners " + listeners);
    }
}
