package dev.torii.dns.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.torii.dns.DnsException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.xbill.DNS.Message;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * The lookup plumbing under the cache's policy: one upstream lookup per question in flight (single flight), the
 * in-flight cap and its queue, the upstream transport with its attempts and deadlines, parsing, and the CNAME chains an
 * upstream left unfollowed. What to answer (fresh, stale, negative, a remembered failure) is {@link CachePolicy}'s; it
 * decides how each flight ends through {@link Settler}.
 *
 * <p><b>Single flight.</b> {@code inFlight} maps a question to the future of the one upstream lookup for it. The owner
 * lets the settler store the outcome <em>before</em> it removes the future and completes it, so a caller always finds
 * one or the other and never sends a second query for a question being answered. CNAME follow-ups bypass the map: a
 * chain that loops back to a question in flight would otherwise wait for itself; the chain length bounds them instead.
 *
 * <p>Thread-safe; nothing blocks. Futures complete on the upstream transport's threads.
 */
public final class Lookups {
    /** How the policy ends a flight and what it has cached; called on the transport's threads, must not block. */
    public interface Settler {
        /** A fresh cached answer for {@code q}, or null. */
        Answer fresh(Question q);

        /** Caches the answer of a CNAME target fetched on the way. */
        void store(Question q, Answer answer);

        /**
         * Ends the flight of {@code q}: stores what is to be stored and returns the answer its callers get, or null to
         * fail them with {@code failure}. Exactly one of {@code fetched} and {@code failure} is non-null.
         */
        Answer settle(Question q, Answer fetched, DnsException failure, boolean background);
    }

    private volatile Zones zones;
    private final InFlightLimiter limiter;
    private final Ticker ticker;
    private final ConcurrentHashMap<Question, CompletableFuture<Answer>> inFlight = new ConcurrentHashMap<>();
    private final LongAdder coalesced = new LongAdder();
    private final LongAdder rejected = new LongAdder();
    private volatile Settler settler;
    private volatile boolean closed;

    /**
     * Lookups under {@code limiter}, each asked of its zone's upstreams and parsed with its zone's TTL clamps. One cap
     * for all zones: it protects this process and the network, whoever is asked.
     */
    public Lookups(Zones zones, InFlightLimiter limiter, Ticker ticker) {
        this.zones = zones;
        this.limiter = limiter;
        this.ticker = ticker;
    }

    /** Sets the policy that settles flights; once, before the first {@link #load}. */
    public void settler(Settler settler) {
        this.settler = settler;
    }

    /**
     * The single flight of {@code q}: joins the lookup in flight, or starts one. A background flight (a refresh) is not
     * counted as coalesced when it joins; {@code mayQueue} says whether a new flight may wait for an in-flight slot.
     */
    public CompletableFuture<Answer> load(Question q, boolean background, boolean mayQueue) {
        CompletableFuture<Answer> mine = new CompletableFuture<>();
        CompletableFuture<Answer> existing = inFlight.putIfAbsent(q, mine);
        if (existing != null) {
            if (!background) {
                coalesced.increment();
            }
            return existing;
        }
        if (closed) {
            // close() may have swept inFlight before our future went in.
            inFlight.remove(q, mine);
            return failed(DnsException.Reason.CLOSED, q.name() + ": the DNS cache is closed");
        }
        Settler s = settler;
        if (!background) {
            // The flight we missed may have stored its answer and left the map between the caller's cache read and our
            // putIfAbsent: look once more, or this question would go upstream twice.
            Answer landed = s.fresh(q);
            if (landed != null) {
                coalesced.increment();
                inFlight.remove(q, mine);
                mine.complete(landed);
                return mine;
            }
        }
        fetch(q, 0, mayQueue).whenComplete((answer, error) -> {
            DnsException failure = error == null ? null : unwrap(error);
            if (failure != null && failure.reason() == DnsException.Reason.OVERLOADED) {
                rejected.increment();
            }
            Answer out = s.settle(q, answer, failure, background);
            // The outcome is in the cache before the future leaves the map: no window in which a caller finds neither.
            inFlight.remove(q, mine);
            if (out != null) {
                mine.complete(out);
            } else {
                mine.completeExceptionally(failure);
            }
        });
        return mine;
    }

    /**
     * Asks upstream for {@code q} under the in-flight cap, parses the answer and follows a CNAME chain the upstream left
     * unfollowed. The result is not stored (but followed targets are).
     */
    private CompletableFuture<Answer> fetch(Question q, int depth, boolean mayQueue) {
        byte[] wireName;
        try {
            wireName = UpstreamQuery.wireName(q.name()); // checked here, before a slot is taken
        } catch (TextParseException e) {
            return failed(DnsException.Reason.INVALID_NAME, q.name() + ": " + e.getMessage());
        }
        Zone zone = zones.of(q.name());
        Policy policy = zone.policy();
        CompletableFuture<Message> response = new CompletableFuture<>();
        Runnable send = () -> zone.upstreams().query(q, wireName).whenComplete((m, e) -> {
            limiter.release();
            if (e != null) {
                response.completeExceptionally(e);
            } else {
                response.complete(m);
            }
        });
        switch (limiter.admit(send, mayQueue)) {
            case RUN -> send.run();
            case QUEUED -> {}
            case REJECTED -> {
                return failed(
                        DnsException.Reason.OVERLOADED,
                        q.name() + " " + Type.string(q.type()) + ": too many upstream queries in flight"
                                + (mayQueue ? " and the queue is full" : ""));
            }
        }
        // The answer's question is the query's (the transport checked it), in the upstream's letter case.
        return response.thenCompose(m -> switch (Answer.parse(q, m.getQuestion().getName(), m, ticker.read(), policy)) {
            case Answer.Complete c -> CompletableFuture.completedFuture(c.answer());
            case Answer.FollowCname f -> follow(q, f, depth + f.chain().size(), mayQueue, policy);
        });
    }

    private CompletableFuture<Answer> follow(
            Question q, Answer.FollowCname f, int depth, boolean mayQueue, Policy policy) {
        if (depth > Answer.MAX_CHAIN) {
            return failed(
                    DnsException.Reason.UPSTREAM_FAILED,
                    q.name() + " " + Type.string(q.type()) + ": CNAME chain longer than " + Answer.MAX_CHAIN);
        }
        Question target = Question.of(f.target(), q.type());
        Answer cached = settler.fresh(target);
        CompletableFuture<Answer> next;
        if (cached != null) {
            next = CompletableFuture.completedFuture(cached);
        } else {
            next = fetch(target, depth, mayQueue).thenApply(a -> {
                settler.store(target, a);
                return a;
            });
        }
        return next.thenApply(a -> Answer.chained(q, f.chain(), f.chainTtlSeconds(), a, ticker.read(), policy));
    }

    /** Misses that joined an identical lookup in flight. */
    public long coalesced() {
        return coalesced.sum();
    }

    /** Flights refused by the in-flight cap and its queue. */
    public long rejected() {
        return rejected.sum();
    }

    /** The zones in force: each name's upstreams and policy. */
    public Zones zones() {
        return zones;
    }

    /**
     * Replaces the zones: lookups that start from now on ask the new upstreams under the new policies; those in flight
     * finish with the zone they started with.
     */
    public void zones(Zones next) {
        this.zones = next;
    }

    /** The in-flight cap, for its gauges. */
    public InFlightLimiter limiter() {
        return limiter;
    }

    /** Fails every flight with {@code CLOSED}, and every later one. Idempotent. */
    public void close() {
        closed = true;
        DnsException e = new DnsException(DnsException.Reason.CLOSED, "the DNS cache is closed");
        for (CompletableFuture<Answer> f : inFlight.values()) {
            f.completeExceptionally(e);
        }
        inFlight.clear();
    }

    static <T> CompletableFuture<T> failed(DnsException.Reason reason, String message) {
        return CompletableFuture.failedFuture(new DnsException(reason, message));
    }

    /** The {@link DnsException} behind {@code error}, or one of {@code UPSTREAM_FAILED} saying what it was. */
    public static DnsException unwrap(Throwable error) {
        Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        return e instanceof DnsException d
                ? d
                : new DnsException(DnsException.Reason.UPSTREAM_FAILED, String.valueOf(e.getMessage()));
    }
}
