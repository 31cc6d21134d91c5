package dev.torii.internal.upstream;

import dev.torii.upstream.ConnectFailure;
import dev.torii.upstream.UpstreamPoolStats;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLException;

/**
 * The gateway-wide upstream counters behind {@link UpstreamPoolStats}: connects by upstream and outcome (any thread
 * counts, with {@link LongAdder}s), and the pool gauges of every event loop's {@link ConnectionPool}. Keys are
 * upstream names from the configuration, so the maps stay as small as it.
 *
 * <p>The pool gauges are not read from the pools (they are confined to their loops): each pool keeps a
 * {@link PoolGauge} per upstream that only its loop writes (volatile, single writer) and {@link #snapshot()} sums
 * them. Thread-safe.
 */
public final class UpstreamCounters {
    private final ConcurrentHashMap<String, LongAdder[]> connects = new ConcurrentHashMap<>();
    private final List<Map<String, PoolGauge>> gauges = new CopyOnWriteArrayList<>();

    /** The in-use and idle connections of one upstream in one event loop's pool; written by that loop only. */
    static final class PoolGauge {
        volatile long inUse;
        volatile long idle;
    }

    /** Counts a connect of {@code upstream} that gave a usable connection. */
    public void connected(String upstream) {
        adders(upstream)[0].increment();
    }

    /** Counts a connect of {@code upstream} that failed for {@code reason}. */
    public void connectFailed(String upstream, ConnectFailure reason) {
        adders(upstream)[1 + reason.ordinal()].increment();
    }

    private LongAdder[] adders(String upstream) {
        LongAdder[] a = connects.get(upstream);
        return a != null ? a : connects.computeIfAbsent(upstream, k -> newAdders());
    }

    private static LongAdder[] newAdders() {
        LongAdder[] a = new LongAdder[1 + ConnectFailure.values().length];
        for (int i = 0; i < a.length; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    /** A new map of gauges for one pool (one event loop), read by {@link #snapshot()}. */
    Map<String, PoolGauge> newPool() {
        Map<String, PoolGauge> m = new ConcurrentHashMap<>();
        gauges.add(m);
        return m;
    }

    /** The stats of every upstream that has connected or has a pool, by name. */
    public Map<String, UpstreamPoolStats> snapshot() {
        Map<String, long[]> pools = new TreeMap<>();
        for (Map<String, PoolGauge> m : gauges) {
            for (Iterator<Map.Entry<String, PoolGauge>> it = m.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<String, PoolGauge> e = it.next();
                long[] sum = pools.computeIfAbsent(e.getKey(), k -> new long[2]);
                sum[0] += e.getValue().inUse;
                sum[1] += e.getValue().idle;
            }
        }
        for (String name : connects.keySet()) {
            pools.computeIfAbsent(name, k -> new long[2]);
        }
        Map<String, UpstreamPoolStats> out = new TreeMap<>();
        for (Map.Entry<String, long[]> e : pools.entrySet()) {
            LongAdder[] a = connects.get(e.getKey());
            var failed = new EnumMap<ConnectFailure, Long>(ConnectFailure.class);
            long ok = 0;
            if (a != null) {
                ok = a[0].sum();
                for (ConnectFailure f : ConnectFailure.values()) {
                    failed.put(f, a[1 + f.ordinal()].sum());
                }
            }
            out.put(e.getKey(), new UpstreamPoolStats(e.getKey(), e.getValue()[0], e.getValue()[1], ok, failed));
        }
        return out;
    }

    /** {@link #snapshot()} as a list sorted by upstream name. */
    public List<UpstreamPoolStats> list() {
        return new ArrayList<>(snapshot().values());
    }

    /**
     * The reason of a failed TCP connect (TLS failures are classified by where they happen, not by their cause):
     * Netty reports a refused connect as a {@link ConnectException} saying so, a connect timeout as a
     * {@link ConnectTimeoutException}.
     */
    public static ConnectFailure reasonOf(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof ConnectTimeoutException) {
                return ConnectFailure.TIMEOUT;
            }
            if (t instanceof SSLException || t instanceof SslHandshakeTimeoutException) {
                return ConnectFailure.TLS;
            }
            if (t instanceof UnknownHostException) {
                return ConnectFailure.DNS;
            }
            String message = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
            if (t instanceof ConnectException) {
                return message.contains("refused") ? ConnectFailure.REFUSED : ConnectFailure.OTHER;
            }
            if (t instanceof ClosedChannelException
                    || t instanceof IOException && (message.contains("reset") || message.contains("broken pipe"))) {
                return ConnectFailure.RESET;
            }
        }
        return ConnectFailure.OTHER;
    }
}
