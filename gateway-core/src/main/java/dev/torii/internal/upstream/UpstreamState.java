package dev.torii.internal.upstream;

import dev.torii.internal.tls.ClientTls;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.EndpointStatus;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.OutlierDetection;
import dev.torii.upstream.Upstream;
import io.netty.handler.ssl.SslContext;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.LongSupplier;

/**
 * The runtime side of an {@link Upstream}: the load balancer's position and the requests in flight per endpoint,
 * shared by every event loop, the health of each endpoint, and the client TLS context of a TLS upstream, built once.
 * A routing-table swap keeps the state of an upstream whose definition did not change, and a changed upstream keeps
 * the health of the endpoints it still has ({@link #UpstreamState(Upstream, UpstreamState)}).
 *
 * <p>Health: an endpoint is <em>available</em> when the active checks have not marked it unhealthy and no ejection by
 * outlier detection is in force. {@link #pick} skips the others; with none available it picks among all of them when
 * the upstream has {@code panic} on, else returns -1 ({@code NO_ENDPOINT}).
 *
 * <p>Thread-safe. Picks read volatile fields only; changes of health take this object's lock (they are rare).
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
    private final EndpointHealth[] health;
    private final LongSupplier ticker;
    /** Exchanges of this upstream that are in a retry now (for the retry budget). */
    private final AtomicInteger retrying = new AtomicInteger();

    /** Fresh state for {@code upstream} (load-balancer position and counters at zero, every endpoint healthy). */
    public UpstreamState(Upstream upstream) {
        this(upstream, null, System::nanoTime);
    }

    /**
     * State for {@code upstream} that keeps the health of the endpoints {@code previous} (the state of the upstream of
     * the same name in the table being replaced, or null) had too.
     */
    public UpstreamState(Upstream upstream, UpstreamState previous) {
        this(upstream, previous, System::nanoTime);
    }

    /** As {@link #UpstreamState(Upstream, UpstreamState)}, with the clock of ejections given (tests). */
    UpstreamState(Upstream upstream, UpstreamState previous, LongSupplier ticker) {
        this.upstream = upstream;
        this.ticker = ticker;
        this.sslContext = ClientTls.contextFor(upstream);
        this.endpoints = upstream.endpoints().toArray(Endpoint[]::new);
        this.inFlight = new AtomicIntegerArray(endpoints.length);
        this.literals = new InetSocketAddress[endpoints.length];
        for (int i = 0; i < endpoints.length; i++) {
            if (endpoints[i].isIpLiteral()) {
                literals[i] = new InetSocketAddress(InetAddress.ofLiteral(endpoints[i].host()), endpoints[i].port());
            }
        }
        this.health = new EndpointHealth[endpoints.length];
        for (int i = 0; i < endpoints.length; i++) {
            EndpointHealth kept = null;
            if (previous != null && previous.upstream.name().equals(upstream.name())) {
                for (EndpointHealth h : previous.health) {
                    if (h.endpoint.equals(endpoints[i])) {
                        kept = h;
                    }
                }
            }
            health[i] = kept != null ? kept : new EndpointHealth(upstream.name(), endpoints[i]);
        }
    }

    /** The clock of ejections and checks, in nanoseconds. */
    long now() {
        return ticker.getAsLong();
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

    /**
     * The endpoint index to use next, never {@code exclude} unless it is the only one (then -1). Skips the endpoints
     * that are not available (unhealthy or ejected); when none is, picks among all of them if the upstream has
     * {@code panic} on, else returns -1.
     */
    public int pick(int exclude) {
        int n = endpoints.length;
        if (n == 1) {
            if (exclude == 0) {
                return -1;
            }
            return upstream.panic() || health[0].available(now(), this) ? 0 : -1;
        }
        int start = Math.floorMod(next.getAndIncrement(), n);
        long now = now();
        int picked = pick(start, exclude, now, true);
        if (picked < 0 && upstream.panic()) {
            picked = pick(start, exclude, now, false);
        }
        return picked;
    }

    private int pick(int start, int exclude, long now, boolean healthyOnly) {
        int n = endpoints.length;
        if (upstream.loadBalancing() == LoadBalancing.ROUND_ROBIN) {
            for (int k = 0; k < n; k++) {
                int i = (start + k) % n;
                if (i != exclude && (!healthyOnly || health[i].available(now, this))) {
                    return i;
                }
            }
            return -1;
        }
        int best = -1;
        int bestLoad = Integer.MAX_VALUE;
        for (int k = 0; k < n; k++) {
            int i = (start + k) % n;
            if (i == exclude || healthyOnly && !health[i].available(now, this)) {
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

    // ------------------------------------------------------------------ retry budget

    /**
     * Takes a place in the retry budget of {@code policy}: true when the exchanges in retry are fewer than the budget
     * allows for the requests in flight now (then {@link #retryDone} must follow), false when it is spent.
     */
    public boolean startRetry(dev.torii.route.RetryPolicy policy) {
        int inFlightNow = 0;
        for (int i = 0; i < endpoints.length; i++) {
            inFlightNow += inFlight.get(i);
        }
        int budget = policy.budget(inFlightNow);
        while (true) {
            int now = retrying.get();
            if (now >= budget) {
                return false;
            }
            if (retrying.compareAndSet(now, now + 1)) {
                return true;
            }
        }
    }

    /** An exchange that took a place in the retry budget ended. */
    public void retryDone() {
        retrying.decrementAndGet();
    }

    /** Exchanges in retry now. */
    int retrying() {
        return retrying.get();
    }

    // ------------------------------------------------------------------ passive health (outlier detection)

    /**
     * An attempt on endpoint {@code index} failed ({@code why}: a 5xx, a refused or timed-out connect, a reset, a
     * response timeout): counts it, and ejects the endpoint when the run reaches the threshold and the cap allows.
     */
    public void failed(int index, String why) {
        OutlierDetection od = upstream.outlierDetection();
        if (od == null) {
            return;
        }
        EndpointHealth h = health[index];
        // A racy increment is fine: the threshold is a heuristic, and ejection itself is decided under the lock.
        int run = h.consecutiveFailures + 1;
        h.consecutiveFailures = run;
        if (run < od.consecutiveFailures()) {
            return;
        }
        synchronized (this) {
            long now = now();
            if (h.ejected(now) || h.consecutiveFailures < od.consecutiveFailures()) {
                return;
            }
            int ejected = 0;
            for (EndpointHealth other : health) {
                if (other.ejected(now)) {
                    ejected++;
                }
            }
            if (ejected >= od.maxEjected(health.length)) {
                return;
            }
            h.eject(now, od, why);
        }
    }

    /** An attempt on endpoint {@code index} got a response head below 500: the run of failures ends. */
    public void succeeded(int index) {
        OutlierDetection od = upstream.outlierDetection();
        if (od == null) {
            return;
        }
        EndpointHealth h = health[index];
        if (h.consecutiveFailures != 0) {
            h.consecutiveFailures = 0;
        }
        if (h.ejections > 0) {
            synchronized (this) {
                h.decay(now(), od);
            }
        }
    }

    /** An ejection of {@code h} ran out: it returns (logged once). */
    synchronized void ejectionEnded(EndpointHealth h, long now) {
        if (h.ejectedUntil != 0 && now - h.ejectedUntil >= 0) {
            h.returned(now);
        }
    }

    // ------------------------------------------------------------------ active health

    /** The health record of endpoint {@code index} (for the checker). */
    EndpointHealth health(int index) {
        return health[index];
    }

    /**
     * An active check of endpoint {@code index} passed or failed: updates its run, and its verdict at the thresholds.
     * A verdict of healthy also ends an ejection. Called by the checker only.
     */
    void checked(int index, boolean passed, String why) {
        var check = upstream.healthCheck();
        EndpointHealth h = health[index];
        synchronized (this) {
            if (passed) {
                h.checkRun = h.checkRun > 0 ? h.checkRun + 1 : 1;
                if (!h.healthy && h.checkRun >= check.healthyThreshold()) {
                    h.verdict(true, why);
                    h.returned(now());
                }
            } else {
                h.checkRun = h.checkRun < 0 ? h.checkRun - 1 : -1;
                if (h.healthy && -h.checkRun >= check.unhealthyThreshold()) {
                    h.verdict(false, why);
                }
            }
        }
    }

    /** The health of every endpoint now, in the upstream's order. */
    public List<EndpointStatus> status() {
        long now = now();
        List<EndpointStatus> out = new ArrayList<>(endpoints.length);
        for (int i = 0; i < endpoints.length; i++) {
            EndpointHealth h = health[i];
            boolean ejected = h.ejected(now);
            out.add(new EndpointStatus(
                    upstream.name(),
                    endpoints[i],
                    h.healthy,
                    ejected,
                    ejected ? (h.ejectedUntil - now) / 1_000_000 : 0,
                    h.consecutiveFailures,
                    h.ejections,
                    inFlight.get(i)));
        }
        return out;
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
