package dev.torii.dns.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.torii.dns.DnsException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.xbill.DNS.Type;

/**
 * What the cache answers: fresh, stale (RFC 8767), negative (RFC 2308, in {@link Answer}), a remembered failure (RFC
 * 9520), and when a name is refreshed ahead of expiry or in the background. {@link Lookups} does the asking.
 *
 * <pre>
 *  lookup(q) ── fresh ──────────────────────────────▶ hit (late in its TTL: prefetch it and its A/AAAA sibling)
 *     │      ── expired, already served stale ──────▶ stale at once (past its retry time: one background refresh)
 *     │      ── expired, first use ─────────────────▶ refresh; stale if it has not answered within staleClientTimeout
 *     │      ── a failure remembered (failureTtl) ──▶ failed at once
 *     ▼ miss
 *  Lookups.load (single flight, cap, upstreams) ── settle: store the answer, or mark the cached one stale with a
 *                                                  retry time backing off 1 s, 2 s, 4 s ... up to staleAnswerTtl,
 *                                                  or remember the failure
 * </pre>
 *
 * <p><b>Time.</b> Every answer carries instants on the injected {@link Ticker}: fresh until its clamped TTL ends, due a
 * refresh after {@code refreshAheadAt} of it, servable stale until {@code staleFor} after it. Decisions are made at read
 * time by comparing those instants with one reading of the ticker, so tests move time instead of sleeping. Caffeine
 * bounds the entries by size only (its variable expiry would read the ticker again on every get, the largest cost of a
 * hit); an answer past its stale window is ignored by reads until the size bound evicts it. The client timeout before
 * stale is real time, on the cache's scheduler.
 *
 * <p><b>Stale at once.</b> An expired answer's first use starts its refresh and waits for it at most the client timeout;
 * then the caller gets the stale answer and the answer is stored marked stale, so every later caller gets it at once
 * while the refresh goes on. A failed refresh backs off; a stale answer past its retry time starts one background
 * refresh (the answer's own flag makes it one) and is still served at once. A, AAAA of one name are refreshed together:
 * a DNS client asks for both, and so does every address lookup.
 *
 * <p>Thread-safe; nothing blocks. A hit completes before {@link #lookup} returns.
 */
public final class CachePolicy implements Lookups.Settler {
    /** A failure remembered until {@code until} (ticker time). */
    private record Failure(long until, DnsException error) {}

    private final Ticker ticker;
    private final ScheduledExecutorService executor;
    private final Lookups lookups;
    private final Cache<Question, Answer> answers;
    private final Cache<Question, Failure> failures;
    private final LongAdder hits = new LongAdder();
    private final LongAdder staleServed = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder refreshes = new LongAdder();
    private final LongAdder failuresCached = new LongAdder();
    private final LongAdder failureHits = new LongAdder();
    private volatile boolean closed;

    /** A policy over {@code lookups} (each name under its zone's settings), keeping at most {@code maxEntries} answers (and as many failures). */
    public CachePolicy(long maxEntries, Ticker ticker, ScheduledExecutorService executor, Lookups lookups) {
        this.ticker = ticker;
        this.executor = executor;
        this.lookups = lookups;
        // Size-bounded only, maintenance in the calling thread: no stray ForkJoinPool work, deterministic in tests.
        this.answers = Caffeine.newBuilder()
                .maximumSize(maxEntries)
                .executor(Runnable::run)
                .build();
        this.failures = Caffeine.newBuilder()
                .maximumSize(maxEntries)
                .executor(Runnable::run)
                .build();
        lookups.settler(this);
    }

    /** One record lookup: a hit, a stale answer, a remembered failure, or the (single) upstream lookup of {@code q}. */
    public CompletableFuture<Answer> lookup(Question q) {
        if (closed) {
            return Lookups.failed(DnsException.Reason.CLOSED, q.name() + ": the DNS cache is closed");
        }
        long now = ticker.read();
        Answer cached = answers.getIfPresent(q);
        if (cached != null && now >= cached.staleUntil()) {
            cached = null; // past the stale window: as good as absent (the size bound evicts it in time)
        }
        if (cached != null) {
            if (now < cached.freshUntil()) {
                hits.increment();
                prefetch(cached, now);
                return CompletableFuture.completedFuture(cached);
            }
            if (cached.stale()) {
                staleServed.increment();
                if (now >= cached.retryAfter() && cached.claimRefresh()) {
                    refreshes.increment();
                    lookups.load(q, true, false);
                }
                refreshSibling(q, now);
                return CompletableFuture.completedFuture(cached);
            }
            // Expired, first use: its refresh never queues (a stale answer is there to give instead).
            misses.increment();
            CompletableFuture<Answer> flight = lookups.load(q, false, false);
            refreshSibling(q, now);
            return staleUnlessQuick(q, cached, flight);
        }
        Failure failure = failures.getIfPresent(q);
        if (failure != null && now < failure.until()) {
            failureHits.increment();
            return CompletableFuture.failedFuture(failure.error());
        }
        misses.increment();
        return lookups.load(q, false, true).thenApply(a -> {
            if (a.stale()) {
                staleServed.increment();
            }
            return a;
        });
    }

    /** The flight's answer if it comes within the client timeout, else {@code expired} served stale (RFC 8767). */
    private CompletableFuture<Answer> staleUnlessQuick(Question q, Answer expired, CompletableFuture<Answer> flight) {
        long timeout = policy(q).staleClientTimeoutNanos();
        if (flight.isDone() || timeout == 0) {
            if (!flight.isDone()) {
                staleServed.increment();
                return CompletableFuture.completedFuture(markStale(q, expired));
            }
            return flight.thenApply(this::countStale);
        }
        CompletableFuture<Answer> out = new CompletableFuture<>();
        ScheduledFuture<?> timer;
        try {
            timer = executor.schedule(
                    () -> {
                        if (!out.isDone()) {
                            complete(out, markStale(q, expired));
                        }
                    },
                    timeout,
                    TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            return flight.thenApply(this::countStale); // the cache is closing: the flight fails at once
        }
        flight.whenComplete((a, e) -> {
            timer.cancel(false);
            if (e != null) {
                out.completeExceptionally(e);
            } else {
                complete(out, a);
            }
        });
        return out;
    }

    /** Completes {@code out} with {@code a}, counted first so that whoever the completion wakes sees the count. */
    private void complete(CompletableFuture<Answer> out, Answer a) {
        if (a.stale()) {
            staleServed.increment();
        }
        if (!out.complete(a) && a.stale()) {
            staleServed.decrement(); // the other path won
        }
    }

    private Answer countStale(Answer a) {
        if (a.stale()) {
            staleServed.increment();
        }
        return a;
    }

    /**
     * {@code expired} marked as served stale and stored so (unless the refresh has replaced it meanwhile): later callers
     * get it at once, and its retry time lets the refresh in flight settle first.
     */
    private Answer markStale(Question q, Answer expired) {
        Answer stale = expired.servedStale(policy(q).staleRetryAfter(ticker.read(), 0), 0);
        answers.asMap().replace(q, expired, stale);
        return stale;
    }

    /** A hit late in its TTL starts one background refresh of it and of its A/AAAA sibling. */
    private void prefetch(Answer answer, long now) {
        if (now >= answer.refreshAt() && !closed && answer.claimRefresh()) {
            refreshes.increment();
            lookups.load(answer.question(), true, false);
            refreshSibling(answer.question(), now);
        }
    }

    /** Refreshes the other address type of {@code q}'s name with it, if that one is cached and due too. */
    private void refreshSibling(Question q, long now) {
        int other = q.type() == Type.A ? Type.AAAA : q.type() == Type.AAAA ? Type.A : -1;
        if (other < 0 || closed) {
            return;
        }
        Question sibling = new Question(q.name(), other);
        Answer a = answers.getIfPresent(sibling);
        if (a == null || now >= a.staleUntil()) {
            return;
        }
        boolean due = a.stale() ? now >= a.retryAfter() : now >= a.refreshAt();
        if (due && a.claimRefresh()) {
            refreshes.increment();
            lookups.load(sibling, true, false);
        }
    }

    /**
     * The fast path of an address lookup: both address answers of {@code name} fresh, at least one with addresses; their
     * addresses, IPv4 first, or null.
     */
    public List<InetAddress> freshAddresses(String name) {
        Answer v4 = answers.getIfPresent(new Question(name, Type.A));
        if (v4 == null) {
            return null;
        }
        Answer v6 = answers.getIfPresent(new Question(name, Type.AAAA));
        long now = ticker.read();
        if (v6 == null || now >= v4.freshUntil() || now >= v6.freshUntil() || !(v4.hasData() || v6.hasData())) {
            return null;
        }
        hits.add(2);
        prefetch(v4, now);
        prefetch(v6, now);
        return concat(v4.addresses(), v6.addresses());
    }

    @Override
    public Answer fresh(Question q) {
        Answer a = answers.getIfPresent(q);
        return a != null && ticker.read() < a.freshUntil() ? a : null;
    }

    @Override
    public void store(Question q, Answer answer) {
        answers.put(q, answer);
    }

    @Override
    public Answer settle(Question q, Answer fetched, DnsException failure, boolean background) {
        if (fetched != null) {
            answers.put(q, fetched);
            failures.invalidate(q);
            return fetched;
        }
        long now = ticker.read();
        Policy policy = policy(q);
        Answer latest = answers.getIfPresent(q);
        if (latest != null && now < latest.staleUntil()) {
            if (now < latest.freshUntil()) {
                return latest; // a refresh ahead of expiry failed: the answer stays as it was
            }
            int failed = latest.failedRefreshes() + 1;
            Answer stale = latest.servedStale(policy.staleRetryAfter(now, failed), failed);
            answers.put(q, stale);
            return stale;
        }
        if (!background && policy.failureTtlNanos() > 0 && remembered(failure.reason())) {
            failures.put(q, new Failure(now + policy.failureTtlNanos(), failure));
            failuresCached.increment();
        }
        return null;
    }

    private Policy policy(Question q) {
        return lookups.zones().of(q.name()).policy();
    }

    /** Upstream failures are remembered; local ones (the cap, a closed cache, a bad name) are not. */
    private static boolean remembered(DnsException.Reason reason) {
        return reason == DnsException.Reason.TIMEOUT || reason == DnsException.Reason.UPSTREAM_FAILED;
    }

    /** The TTL, in seconds, that {@code answer} carries if served now (the stale answer TTL for a stale answer). */
    public long ttlSeconds(Answer answer) {
        return answer.stale()
                ? policy(answer.question()).staleAnswerTtlSeconds()
                : Math.max(0, (answer.freshUntil() - ticker.read() + 999_999_999L) / 1_000_000_000L);
    }

    /** Lookups answered from a fresh answer. */
    public long hits() {
        return hits.sum();
    }

    /** Lookups answered stale. */
    public long staleServed() {
        return staleServed.sum();
    }

    /** Lookups that went to (or joined) an upstream lookup. */
    public long misses() {
        return misses.sum();
    }

    /** Background refreshes started. */
    public long refreshes() {
        return refreshes.sum();
    }

    /** Failures remembered. */
    public long failuresCached() {
        return failuresCached.sum();
    }

    /** Lookups failed at once from a remembered failure. */
    public long failureHits() {
        return failureHits.sum();
    }

    /** The approximate number of cached answers, after pending evictions. */
    public long entries() {
        answers.cleanUp();
        return answers.estimatedSize();
    }

    /** Keeps at most {@code maxEntries} answers (and as many failures) from now on, evicting the excess. */
    public void resize(long maxEntries) {
        answers.policy().eviction().ifPresent(e -> e.setMaximum(maxEntries));
        failures.policy().eviction().ifPresent(e -> e.setMaximum(maxEntries));
    }

    /** Drops the answers and remembered failures of the questions {@code drop} accepts. */
    public void invalidateIf(java.util.function.Predicate<Question> drop) {
        answers.asMap().keySet().removeIf(drop);
        failures.asMap().keySet().removeIf(drop);
    }

    /** Drops every cached answer and remembered failure (lookups in flight still store theirs). */
    public void invalidateAll() {
        answers.invalidateAll();
        failures.invalidateAll();
    }

    /** Fails lookups in flight and later ones with {@code CLOSED}. Idempotent. */
    public void close() {
        closed = true;
        lookups.close();
    }

    /** Whether {@link #close()} was called. */
    public boolean closed() {
        return closed;
    }

    /** {@code a} then {@code b}, without copying when one is empty. */
    public static List<InetAddress> concat(List<InetAddress> a, List<InetAddress> b) {
        if (b.isEmpty()) {
            return a;
        }
        if (a.isEmpty()) {
            return b;
        }
        List<InetAddress> out = new ArrayList<>(a.size() + b.size());
        out.addAll(a);
        out.addAll(b);
        return List.copyOf(out);
    }
}
