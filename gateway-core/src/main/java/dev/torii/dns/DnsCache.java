package dev.torii.dns;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.torii.dns.internal.Answer;
import dev.torii.dns.internal.CacheAccess;
import dev.torii.dns.internal.CachePolicy;
import dev.torii.dns.internal.DnsTransport;
import dev.torii.dns.internal.InFlightLimiter;
import dev.torii.dns.internal.LatencyRecorder;
import dev.torii.dns.internal.Lookups;
import dev.torii.dns.internal.Policy;
import dev.torii.dns.internal.Question;
import dev.torii.dns.internal.ResolvConf;
import dev.torii.dns.internal.SearchList;
import dev.torii.dns.internal.Upstreams;
import dev.torii.dns.internal.Zone;
import dev.torii.dns.internal.Zones;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.function.UnaryOperator;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/**
 * An asynchronous, caching DNS stub resolver built for cluster DNS congestion: the resolver behind every upstream
 * endpoint written as a host name, and the cache that the DNS server mode answers other processes from.
 *
 * <pre>{@code
 * DnsCache dns = DnsCache.builder().upstreams("10.96.0.10:53").forceTcp(true).build();
 * dns.resolve("backend.prod.svc.cluster.local", eventLoop)
 *    .thenAccept(addresses -> connect(addresses.getFirst()));
 * }</pre>
 *
 * <h2>Design</h2>
 *
 * <pre>
 *  resolve(host) ── literal? ──▶ done
 *     │ search list / ndots: candidate names, each asked for A and AAAA in parallel
 *     ▼
 *  CachePolicy (what to answer): fresh ─▶ hit, prefetched late in its TTL with its A/AAAA sibling
 *     │                          expired ─▶ refreshed; stale (RFC 8767) unless the refresh answers within
 *     │                                     staleClientTimeout, then at once, refreshed in the background with backoff
 *     │                          a failure remembered for failureTtl (RFC 9520) ─▶ failed at once
 *     ▼ miss
 *  Lookups (how to ask): single flight per question; in-flight cap and bounded queue (no queueing when a stale
 *     │                  answer could be served); CNAME chains an upstream left unfollowed
 *     ▼
 *  Upstreams: attempt 1..n, each on the next server, each with our own deadline, jittered pauses between
 *              (DnsTransport on Netty: a pool of UDP sockets, random ports and IDs, TC → TCP; or TCP only, pipelined)
 * </pre>
 *
 * <p>The policy ({@code internal.CachePolicy}) and the plumbing ({@code internal.Lookups}) each open with their own
 * design notes; this class is the API over them: address, SRV and message lookups, and the builder.
 *
 * <p><b>Threads.</b> Nothing here blocks. A hit completes the returned future before the method returns, on the
 * caller's thread. Everything else (dnsjava's response parsing, our parsing, storing and completing futures, and so the
 * callers' dependent stages) runs on the upstream transport's event loop, which also holds each attempt's deadline;
 * pauses between attempts and the stale client timeout run on the cache's scheduler: by default two daemon threads
 * named {@code torii-dns}, or the one given to {@link Builder#executor}. Callers that must continue on their own
 * thread, like a Netty event loop, use {@link #resolve(String, Executor)}.
 *
 * <p>Thread-safe.
 */
public final class DnsCache implements AutoCloseable {
    private volatile SearchList searchList;
    private final ScheduledExecutorService executor;
    private final Ticker ticker;
    /** The counters of upstreams a {@link #reconfigure} retired, so that the totals in {@link #stats} never go back. */
    private final java.util.concurrent.atomic.AtomicLongArray retired =
            new java.util.concurrent.atomic.AtomicLongArray(3);

    private final boolean ownsExecutor;
    private final int ednsPayloadSize;
    private final DnsTransport transport;
    private final LatencyRecorder latency = new LatencyRecorder();
    private final Lookups lookups;
    private final CachePolicy cache;

    private DnsCache(Builder b) {
        this.searchList = new SearchList(b.searchList, b.ndots);
        this.ownsExecutor = b.executor == null;
        this.executor = ownsExecutor ? defaultExecutor() : b.executor;
        this.ticker = b.ticker;
        this.ednsPayloadSize = b.ednsPayloadSize;
        int payload = b.ednsPayloadSize;
        for (Builder z : b.builtZones.values()) {
            payload = Math.max(payload, z.ednsPayloadSize);
        }
        this.transport = new DnsTransport(payload);
        this.lookups = new Lookups(zones(b), new InFlightLimiter(b.maxInFlight, b.queueLimit), b.ticker);
        this.cache = new CachePolicy(b.maxEntries, b.ticker, executor, lookups);
    }

    private Zones zones(Builder b) {
        List<Zone> zones = new ArrayList<>();
        zones.add(zone("", b));
        for (var z : b.builtZones.entrySet()) {
            zones.add(zone(z.getKey(), z.getValue()));
        }
        return new Zones(zones);
    }

    /**
     * Swaps this cache's settings for those of {@code settings}, as a configuration reload does, without a cold cache:
     * the upstreams and forward zones, TTL clamps, stale and failure policy, refresh-ahead, search list and
     * {@code ndots}, and the most entries kept. Lookups that start afterwards use the new settings; those in flight
     * finish under the old ones.
     *
     * <p>Cached answers and remembered failures stay while the servers their names are asked of stay the same: those of
     * a name whose zone now has other upstreams (or {@code forceTcp} changed, or the name moved to another zone) are
     * dropped, so that its next lookup goes to the new servers. Kept answers keep the TTL and stale window they were
     * stored with. The in-flight cap and queue, the ticker and the scheduler stay as built (and the upstream transport's
     * receive buffer, sized for the largest EDNS size built with, at least 4 KiB); a setting
     * that {@link Builder#build()} would refuse is refused here with the same message, and nothing changes.
     *
     * <p>Thread-safe; opens the UDP sockets of new upstream servers (a bind each), so call it off any event loop.
     * Concurrent calls are serialised.
     */
    public synchronized void reconfigure(Builder settings) {
        Objects.requireNonNull(settings, "settings");
        if (cache.closed()) {
            throw new IllegalStateException("the DNS cache is closed");
        }
        Builder b = settings.checked();
        Zones before = lookups.zones();
        Zones after = zones(b);
        lookups.zones(after);
        searchList = new SearchList(b.searchList, b.ndots);
        cache.resize(b.maxEntries);
        cache.invalidateIf(q -> {
            Zone was = before.of(q.name());
            Zone now = after.of(q.name());
            return !was.name().equals(now.name()) || !was.upstreams().sameServers(now.upstreams());
        });
        for (Zone z : before.all()) {
            retired.addAndGet(0, z.upstreams().queries());
            retired.addAndGet(1, z.upstreams().errors());
            retired.addAndGet(2, z.upstreams().timeouts());
        }
    }

    private Zone zone(String name, Builder b) {
        Policy policy = new Policy(
                b.minTtl.toNanos(),
                b.maxTtl.toNanos(),
                b.maxNegativeTtl.toNanos(),
                b.staleFor.toNanos(),
                b.staleAnswerTtl.toSeconds(),
                b.refreshAheadAt,
                b.staleClientTimeout.toNanos(),
                b.failureTtl.toNanos());
        Upstreams upstreams = new Upstreams(
                transport,
                b.upstreams,
                b.forceTcp,
                b.ednsPayloadSize,
                b.queryTimeout,
                b.attempts,
                b.retryBackoff,
                executor,
                ticker,
                latency);
        return new Zone(name, policy, upstreams);
    }

    private static ScheduledExecutorService defaultExecutor() {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(2, r -> {
            Thread t = new Thread(r, "torii-dns");
            t.setDaemon(true);
            return t;
        });
        // Most deadlines are cancelled by an answer; without this they would sit in the queue until they were due.
        e.setRemoveOnCancelPolicy(true);
        return e;
    }

    /** A builder with the defaults listed on each of its methods. */
    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------------------------------------------- addresses

    /**
     * Resolves a host name to its IPv4 and IPv6 addresses: the A and AAAA answers of the first candidate name (see
     * {@link Builder#searchList}) that has any, IPv4 first, each in the upstream's order. An IP literal resolves to
     * itself. If only one of the two lookups fails, the other's addresses are the answer.
     *
     * <p>The future fails with a {@link DnsException}. A cache hit returns a completed future; otherwise it completes
     * on the cache's scheduler (see {@link #resolve(String, Executor)}).
     */
    public CompletableFuture<List<InetAddress>> resolve(String host) {
        Objects.requireNonNull(host, "host");
        if (cache.closed()) {
            return failed(DnsException.Reason.CLOSED, host + ": the DNS cache is closed");
        }
        InetAddress literal = literal(host);
        if (literal != null) {
            return CompletableFuture.completedFuture(List.of(literal));
        }
        boolean absolute = host.endsWith(".");
        String name = normalize(host, absolute);
        if (name.isEmpty()) {
            return failed(DnsException.Reason.INVALID_NAME, "\"" + host + "\" (expected: a host name)");
        }
        // The first candidate is the name itself or, for a short name, the name in the first search domain (a
        // Service in the pod's own namespace): the common hit, tried before any list of candidates is built.
        String first = searchList.asIsFirst(name, absolute)
                ? name
                : name + "." + searchList.domains().getFirst();
        List<InetAddress> hit = cache.freshAddresses(first);
        if (hit != null) {
            return CompletableFuture.completedFuture(hit);
        }
        return resolveCandidates(host, searchList.candidates(name, absolute), 0);
    }

    /**
     * Resolves like {@link #resolve(String)}, but completes the future through {@code executor} (a Netty event loop,
     * say) unless it is already complete when this method returns, as it is on a cache hit. If {@code executor}
     * rejects the task the future completes on the cache's own thread.
     */
    public CompletableFuture<List<InetAddress>> resolve(String host, Executor executor) {
        Objects.requireNonNull(executor, "executor");
        return on(resolve(host), executor);
    }

    private CompletableFuture<List<InetAddress>> resolveCandidates(String host, List<String> names, int index) {
        String name = names.get(index);
        CompletableFuture<Outcome> v4 = lookup(new Question(name, Type.A)).handle(Outcome::new);
        CompletableFuture<Outcome> v6 = lookup(new Question(name, Type.AAAA)).handle(Outcome::new);
        return v4.thenCombine(v6, (a, b) -> new Outcome[] {a, b}).thenCompose(both -> {
            Outcome a = both[0];
            Outcome b = both[1];
            List<InetAddress> found = concat(a.addresses(), b.addresses());
            if (!found.isEmpty()) {
                return CompletableFuture.completedFuture(found);
            }
            DnsException failure = a.failure() != null ? a.failure() : b.failure();
            if (failure != null) {
                return CompletableFuture.failedFuture(failure);
            }
            if (index + 1 < names.size()) {
                return resolveCandidates(host, names, index + 1);
            }
            return notFound(host, names, a.nxdomain() && b.nxdomain(), "A or AAAA");
        });
    }

    /** The result of one record lookup, failure included, so that A and AAAA can be judged together. */
    private record Outcome(Answer answer, DnsException failure) {
        Outcome(Answer answer, Throwable error) {
            this(answer, error == null ? null : unwrap(error));
        }

        List<InetAddress> addresses() {
            return answer == null ? List.of() : answer.addresses();
        }

        boolean nxdomain() {
            return answer != null && answer.rcode() == Rcode.NXDOMAIN;
        }
    }

    // ---------------------------------------------------------------------------------------------------- SRV

    /**
     * Looks up the SRV records of a service name such as {@code _http._tcp.backend}, through the search list like
     * {@link #resolve(String)}. The targets come ordered by priority, then by weight, heaviest first; choosing among
     * equal priorities by weight is the caller's. The future fails with a {@link DnsException}.
     */
    public CompletableFuture<List<SrvTarget>> resolveSrv(String service) {
        Objects.requireNonNull(service, "service");
        if (cache.closed()) {
            return failed(DnsException.Reason.CLOSED, service + ": the DNS cache is closed");
        }
        boolean absolute = service.endsWith(".");
        String name = normalize(service, absolute);
        if (name.isEmpty()) {
            return failed(DnsException.Reason.INVALID_NAME, "\"" + service + "\" (expected: a service name)");
        }
        List<String> names = searchList.candidates(name, absolute);
        return searchSrv(service, names, 0);
    }

    private CompletableFuture<List<SrvTarget>> searchSrv(String service, List<String> names, int index) {
        return lookup(new Question(names.get(index), Type.SRV)).thenCompose(a -> {
            if (a.hasData()) {
                return CompletableFuture.completedFuture(a.services());
            }
            if (index + 1 < names.size()) {
                return searchSrv(service, names, index + 1);
            }
            return notFound(service, names, a.rcode() == Rcode.NXDOMAIN, "SRV");
        });
    }

    /**
     * Looks up the TXT records of a name through the search list like {@link #resolve(String)}: one string per record,
     * its character-strings joined without separators (as SPF and DKIM read them), in the upstream's order. The future
     * fails with a {@link DnsException}; a hit completes before this method returns.
     */
    public CompletableFuture<List<String>> resolveTxt(String name) {
        Objects.requireNonNull(name, "name");
        if (cache.closed()) {
            return failed(DnsException.Reason.CLOSED, name + ": the DNS cache is closed");
        }
        boolean absolute = name.endsWith(".");
        String normalized = normalize(name, absolute);
        if (normalized.isEmpty()) {
            return failed(DnsException.Reason.INVALID_NAME, "\"" + name + "\" (expected: a domain name)");
        }
        return searchTxt(name, searchList.candidates(normalized, absolute), 0);
    }

    private CompletableFuture<List<String>> searchTxt(String name, List<String> names, int index) {
        return lookup(new Question(names.get(index), Type.TXT)).thenCompose(a -> {
            if (a.hasData()) {
                List<String> texts = new ArrayList<>();
                for (Record r : a.records()) {
                    if (r instanceof TXTRecord txt) {
                        texts.add(String.join("", txt.getStrings()));
                    }
                }
                return CompletableFuture.completedFuture(List.copyOf(texts));
            }
            if (index + 1 < names.size()) {
                return searchTxt(name, names, index + 1);
            }
            return notFound(name, names, a.rcode() == Rcode.NXDOMAIN, "TXT");
        });
    }

    // ---------------------------------------------------------------------------------------------------- messages

    /**
     * Answers a DNS query message from the cache, asking upstream on a miss: the record-level entry point of the DNS
     * server mode. The response carries the request's ID, question and RD flag, RA, the rcode, the CNAME chain and
     * records (or, for a negative answer, the SOA in the authority section), each with the TTL that remains (stale
     * answers: {@code staleAnswerTtl}), and an OPT record when the request had one. No search list applies.
     *
     * <p>The future never fails: a lookup failure is answered SERVFAIL. What a cache does not serve is refused as
     * unbound refuses it: other opcodes than QUERY are NOTIMP; classes other than IN, {@code ANY}, zone transfers
     * ({@code AXFR}, {@code IXFR}) and the other meta types (128-255) are REFUSED; a query without a question, or asking
     * for {@code OPT}, is FORMERR. Truncating the response to what the client's transport allows is the caller's.
     * Completes like {@link #resolve(String)}.
     */
    public CompletableFuture<Message> query(Message request) {
        Objects.requireNonNull(request, "request");
        Record question = request.getQuestion();
        if (question == null) {
            return CompletableFuture.completedFuture(error(request, Rcode.FORMERR));
        }
        int refusal = refusal(request.getHeader().getOpcode(), question.getDClass(), question.getType());
        if (refusal != Rcode.NOERROR) {
            return CompletableFuture.completedFuture(error(request, refusal));
        }
        return lookup(Question.of(question.getName(), question.getType()))
                .handle((answer, e) -> e == null ? response(request, answer) : error(request, Rcode.SERVFAIL));
    }

    /** The rcode a query of this opcode, class and type gets without a lookup, or NOERROR when it is looked up. */
    static int refusal(int opcode, int dclass, int type) {
        if (opcode != Opcode.QUERY) {
            return Rcode.NOTIMP;
        }
        if (type == Type.OPT) {
            return Rcode.FORMERR;
        }
        if (dclass != DClass.IN
                || type == Type.ANY
                || type == Type.AXFR
                || type == Type.IXFR
                || (type >= 128 && type <= 255)) {
            return Rcode.REFUSED;
        }
        return Rcode.NOERROR;
    }

    private long ttlSeconds(Answer answer) {
        return cache.ttlSeconds(answer);
    }

    private Message response(Message request, Answer answer) {
        Message response = header(request, answer.rcode());
        Answer.Rendered rendered = answer.render(ttlSeconds(answer));
        for (Record r : rendered.answer()) {
            response.addRecord(r, Section.ANSWER);
        }
        for (Record r : rendered.authority()) {
            response.addRecord(r, Section.AUTHORITY);
        }
        return response;
    }

    private int responseEdnsSize() {
        return ednsPayloadSize == 0 ? 1232 : ednsPayloadSize;
    }

    private Message error(Message request, int rcode) {
        return header(request, rcode);
    }

    private Message header(Message request, int rcode) {
        Message response = new Message(request.getHeader().getID());
        Header h = response.getHeader();
        h.setFlag(Flags.QR);
        h.setFlag(Flags.RA);
        if (request.getHeader().getFlag(Flags.RD)) {
            h.setFlag(Flags.RD);
        }
        h.setOpcode(request.getHeader().getOpcode());
        h.setRcode(rcode);
        if (request.getQuestion() != null) {
            response.addRecord(request.getQuestion(), Section.QUESTION);
        }
        if (request.getOPT() != null) {
            response.addRecord(new OPTRecord(responseEdnsSize(), 0, 0), Section.ADDITIONAL);
        }
        return response;
    }

    /**
     * What the DNS server of this package needs beyond the public API: record-level lookups and responses built from
     * cached answers, so that a hit can be answered from serialized bytes without dnsjava parsing the query.
     */
    CacheAccess serverAccess() {
        return new CacheAccess() {
            @Override
            public CompletableFuture<Answer> lookup(Question q) {
                return DnsCache.this.lookup(q);
            }

            @Override
            public long ttlSeconds(Answer answer) {
                return DnsCache.this.ttlSeconds(answer);
            }

            @Override
            public Message response(Message request, Answer answer) {
                return DnsCache.this.response(request, answer);
            }

            @Override
            public int responseEdnsSize() {
                return DnsCache.this.responseEdnsSize();
            }

            @Override
            public Message error(Message request, int rcode) {
                return DnsCache.this.error(request, rcode);
            }

            @Override
            public CompletableFuture<Message> query(Message request) {
                return DnsCache.this.query(request);
            }

            @Override
            public int refusal(int opcode, int dclass, int type) {
                return DnsCache.refusal(opcode, dclass, type);
            }
        };
    }

    /** One record lookup through the cache's policy. */
    private CompletableFuture<Answer> lookup(Question q) {
        return cache.lookup(q);
    }

    // ---------------------------------------------------------------------------------------------------- the rest

    /** A snapshot of the counters (see {@link DnsCacheStats}). Cheap enough to call per scrape, not per lookup. */
    public DnsCacheStats stats() {
        long queries = retired.get(0);
        long errors = retired.get(1);
        long timeouts = retired.get(2);
        for (Zone z : lookups.zones().all()) {
            queries += z.upstreams().queries();
            errors += z.upstreams().errors();
            timeouts += z.upstreams().timeouts();
        }
        return new DnsCacheStats(
                cache.hits(),
                cache.staleServed(),
                cache.misses(),
                lookups.coalesced(),
                cache.refreshes(),
                lookups.rejected(),
                cache.failuresCached(),
                cache.failureHits(),
                queries,
                errors,
                timeouts,
                lookups.limiter().running(),
                lookups.limiter().queued(),
                cache.entries(),
                new DnsCacheStats.Histogram(LatencyRecorder.UPPER_BOUNDS, latency.snapshot()));
    }

    /**
     * Answers from upstream DNS servers that the transport dropped because their ID, question or source matched no
     * query in flight (spoofs, answers that came after their query timed out). Cheap; thread-safe.
     */
    public long upstreamAnswersDropped() {
        return transport.dropped();
    }

    /** UDP answers from upstream DNS servers that came truncated (TC) and were asked again over TCP. Thread-safe. */
    public long upstreamAnswersTruncated() {
        return transport.truncated();
    }

    /** Drops every cached answer and remembered failure (lookups in flight still store theirs). */
    public void invalidateAll() {
        cache.invalidateAll();
    }

    /**
     * Closes the cache: lookups in flight and later calls fail with {@link DnsException.Reason#CLOSED}, and the default
     * scheduler stops (one given to {@link Builder#executor} is left running). Idempotent.
     */
    @Override
    public void close() {
        cache.close();
        transport.close();
        if (ownsExecutor) {
            executor.shutdownNow();
        }
    }

    private static <T> CompletableFuture<T> on(CompletableFuture<T> f, Executor executor) {
        if (f.isDone()) {
            return f;
        }
        CompletableFuture<T> out = new CompletableFuture<>();
        f.whenComplete((value, error) -> {
            Runnable complete = () -> {
                if (error != null) {
                    out.completeExceptionally(unwrapAny(error));
                } else {
                    out.complete(value);
                }
            };
            try {
                executor.execute(complete);
            } catch (RejectedExecutionException e) {
                complete.run();
            }
        });
        return out;
    }

    private static <T> CompletableFuture<T> notFound(String what, List<String> names, boolean nxdomain, String types) {
        String tried = names.size() == 1 ? "" : " (tried " + String.join(", ", names) + ")";
        return nxdomain
                ? failed(DnsException.Reason.NAME_NOT_FOUND, what + ": no such name" + tried)
                : failed(DnsException.Reason.NO_DATA, what + ": no " + types + " records" + tried);
    }

    private static <T> CompletableFuture<T> failed(DnsException.Reason reason, String message) {
        return CompletableFuture.failedFuture(new DnsException(reason, message));
    }

    private static Throwable unwrapAny(Throwable e) {
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    private static DnsException unwrap(Throwable error) {
        return Lookups.unwrap(error);
    }

    private static List<InetAddress> concat(List<InetAddress> a, List<InetAddress> b) {
        return CachePolicy.concat(a, b);
    }

    /** Lower case without the final dot; {@code String.toLowerCase} returns the same string when nothing changes. */
    private static String normalize(String host, boolean absolute) {
        String name = host.toLowerCase(Locale.ROOT);
        return absolute ? name.substring(0, name.length() - 1) : name;
    }

    /** The address of an IPv4 or IPv6 literal, or null; cheap for names, which never get to the parser. */
    private static InetAddress literal(String host) {
        if (host.isEmpty()) {
            return null;
        }
        char first = host.charAt(0);
        if ((first < '0' || first > '9') && first != '[' && first != ':' && Character.digit(first, 16) < 0) {
            return null; // a name: no IPv4 or IPv6 literal starts with this
        }
        boolean v6 = host.indexOf(':') >= 0;
        if (!v6) {
            for (int i = 0; i < host.length(); i++) {
                char c = host.charAt(i);
                if ((c < '0' || c > '9') && c != '.') {
                    return null;
                }
            }
        }
        String text = v6 && host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        try {
            return InetAddress.ofLiteral(text);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /**
     * Builds a {@link DnsCache}. Setters only record values; {@link #build()} checks every value and their
     * combination and names the first that is wrong, with what was expected. Not thread-safe; a builder can build
     * several caches.
     */
    public static final class Builder {
        private List<InetSocketAddress> upstreams = List.of();
        private Duration minTtl = Duration.ofSeconds(1);
        private Duration maxTtl = Duration.ofMinutes(5);
        private Duration maxNegativeTtl = Duration.ofSeconds(30);
        private Duration staleFor = Duration.ofHours(1);
        private Duration staleAnswerTtl = Duration.ofSeconds(30);
        private Duration staleClientTimeout = Duration.ofMillis(30);
        private Duration failureTtl = Duration.ofSeconds(5);
        private double refreshAheadAt = 0.8;
        private long maxEntries = 10_000;
        private int maxInFlight = 256;
        private int queueLimit = 1_024;
        private Duration queryTimeout = Duration.ofSeconds(1);
        private int attempts = 3;
        private Duration retryBackoff = Duration.ofMillis(20);
        private boolean forceTcp;
        private int ednsPayloadSize = 1232;
        private List<String> searchList = List.of();
        private int ndots = 1;
        private Ticker ticker = Ticker.systemTicker();
        private ScheduledExecutorService executor;
        private String upstreamError;
        private final Map<String, UnaryOperator<Builder>> zones = new LinkedHashMap<>();
        private Map<String, Builder> builtZones = Map.of();

        private Builder() {}

        /**
         * A forward zone, as a NodeLocal DNSCache Corefile's server blocks: names at or below {@code name} (such as
         * {@code cluster.local}, or a reverse zone like {@code 10.in-addr.arpa}) are asked of the zone's own upstreams
         * with its own settings. {@code settings} receives a builder holding this builder's values at {@link #build()}
         * time and sets what differs: {@link #upstreams}, {@link #forceTcp}, {@link #queryTimeout}, {@link #attempts},
         * {@link #retryBackoff}, the TTL clamps, the stale and failure settings and {@link #refreshAheadAt}; the cache's
         * size, in-flight cap, search list, ticker and executor are the cache's, whatever it sets. The most specific zone
         * of a name wins; names outside every zone go to this builder's upstreams. A zone given again replaces the
         * earlier one.
         */
        public Builder zone(String name, UnaryOperator<Builder> settings) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(settings, "settings");
            zones.put(name, settings);
            return this;
        }

        /**
         * The upstream servers (required): recursive resolvers such as kube-dns's ClusterIP, tried in order, a server
         * that failed being tried last for 30 s.
         */
        public Builder upstreams(List<InetSocketAddress> servers) {
            this.upstreams = List.copyOf(servers);
            this.upstreamError = null;
            return this;
        }

        /** The upstream servers as IP literals with an optional port (53 by default): {@code "10.96.0.10:53"}, {@code "[fd00::a]:53"}. */
        public Builder upstreams(String... servers) {
            List<InetSocketAddress> out = new ArrayList<>();
            upstreamError = null;
            for (String s : servers) {
                InetSocketAddress a = parseServer(Objects.requireNonNull(s, "server"));
                if (a == null) {
                    upstreamError = "upstreams: " + s
                            + " (expected: an IP address with an optional port, like 10.96.0.10:53 or [fd00::a]:53)";
                } else {
                    out.add(a);
                }
            }
            this.upstreams = List.copyOf(out);
            return this;
        }

        /**
         * Takes the name servers, search list, {@code ndots}, {@code timeout} and {@code attempts} (per server, as the
         * C library counts them) of a resolv.conf(5), as a pod's {@code /etc/resolv.conf} sets them. Later setters
         * override what it set.
         */
        public Builder resolvConf(Path file) throws IOException {
            ResolvConf conf = ResolvConf.parse(Files.readString(file));
            if (!conf.nameservers().isEmpty()) {
                upstreams(conf.nameservers());
            }
            searchList(conf.search());
            if (conf.ndots() >= 0) {
                ndots(conf.ndots());
            }
            if (conf.timeoutSeconds() > 0) {
                queryTimeout(Duration.ofSeconds(conf.timeoutSeconds()));
            }
            if (conf.attempts() > 0) {
                attempts(conf.attempts() * Math.max(1, upstreams.size()));
            }
            return this;
        }

        /** The shortest time an answer stays fresh, whatever its TTL (default 1 s; 0 allowed). */
        public Builder minTtl(Duration minTtl) {
            this.minTtl = Objects.requireNonNull(minTtl, "minTtl");
            return this;
        }

        /** The longest time a positive answer stays fresh, whatever its TTL (default 5 min; at least minTtl). */
        public Builder maxTtl(Duration maxTtl) {
            this.maxTtl = Objects.requireNonNull(maxTtl, "maxTtl");
            return this;
        }

        /**
         * The longest time a negative answer (NXDOMAIN, or no records of the type) stays fresh (default 30 s). Its TTL
         * is otherwise the SOA's, per RFC 2308; without an SOA it is {@code minTtl}.
         */
        public Builder maxNegativeTtl(Duration maxNegativeTtl) {
            this.maxNegativeTtl = Objects.requireNonNull(maxNegativeTtl, "maxNegativeTtl");
            return this;
        }

        /** How long past its TTL an answer may be served when upstreams fail or are slow, RFC 8767 (default 1 h; 0: never). */
        public Builder staleFor(Duration staleFor) {
            this.staleFor = Objects.requireNonNull(staleFor, "staleFor");
            return this;
        }

        /**
         * The TTL on stale answers given to DNS clients, and the longest pause between background refreshes of a name
         * being served stale: they back off 1 s, 2 s, 4 s ... up to this (default 30 s, RFC 8767's recommended failure
         * recheck; whole seconds, at least 1 s). Callers get the stale answer at once meanwhile.
         */
        public Builder staleAnswerTtl(Duration staleAnswerTtl) {
            this.staleAnswerTtl = Objects.requireNonNull(staleAnswerTtl, "staleAnswerTtl");
            return this;
        }

        /**
         * How long a lookup of an expired answer waits for its refresh before it gets the stale answer (RFC 8767's
         * client response timer; default 30 ms; 0: stale at once). The refresh goes on in the background either way,
         * so a silent upstream costs callers at most this, not the query timeout times the attempts.
         */
        public Builder staleClientTimeout(Duration staleClientTimeout) {
            this.staleClientTimeout = Objects.requireNonNull(staleClientTimeout, "staleClientTimeout");
            return this;
        }

        /**
         * How long a lookup that failed upstream (SERVFAIL, REFUSED, I/O errors, timeouts: every attempt) with nothing
         * stale to serve is remembered, its callers failing at once without asking again (RFC 9520; default 5 s; 0: not
         * remembered; at most 5 min as the RFC says).
         */
        public Builder failureTtl(Duration failureTtl) {
            this.failureTtl = Objects.requireNonNull(failureTtl, "failureTtl");
            return this;
        }

        /**
         * The fraction of an answer's TTL after which using it starts one background refresh (default 0.8; in (0, 1],
         * 1 turns refresh-ahead off). Only names used late in their TTL are refreshed.
         */
        public Builder refreshAheadAt(double fraction) {
            this.refreshAheadAt = fraction;
            return this;
        }

        /** The most answers kept (default 10,000; each name has one per record type asked). */
        public Builder maxEntries(long maxEntries) {
            this.maxEntries = maxEntries;
            return this;
        }

        /** The most upstream lookups in flight at once (default 256). */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = maxInFlight;
            return this;
        }

        /**
         * How many lookups may wait for an in-flight slot (default 1,024; 0: none wait). Beyond it a lookup is answered
         * stale if it can be, and fails with {@code OVERLOADED} otherwise.
         */
        public Builder queueLimit(int queueLimit) {
            this.queueLimit = queueLimit;
            return this;
        }

        /** The deadline of each upstream attempt (default 1 s). */
        public Builder queryTimeout(Duration queryTimeout) {
            this.queryTimeout = Objects.requireNonNull(queryTimeout, "queryTimeout");
            return this;
        }

        /** Upstream attempts per lookup, each on the next server (default 3; at least 1). */
        public Builder attempts(int attempts) {
            this.attempts = attempts;
            return this;
        }

        /**
         * The base of the pause before a retry: attempt n waits a random time up to {@code retryBackoff × 2^(n-1)},
         * capped at the query timeout (default 20 ms; 0: retry at once).
         */
        public Builder retryBackoff(Duration retryBackoff) {
            this.retryBackoff = Objects.requireNonNull(retryBackoff, "retryBackoff");
            return this;
        }

        /**
         * Whether to query upstreams over TCP only (default false: UDP, and TCP when an answer comes back truncated). TCP
         * avoids the conntrack races of parallel UDP queries behind a Kubernetes Service.
         */
        public Builder forceTcp(boolean forceTcp) {
            this.forceTcp = forceTcp;
            return this;
        }

        /** The EDNS(0) UDP payload size advertised upstream (default 1232, the DNS Flag Day 2020 value; 0: no EDNS, 512). */
        public Builder ednsPayloadSize(int ednsPayloadSize) {
            this.ednsPayloadSize = ednsPayloadSize;
            return this;
        }

        /** The search domains of relative names, as resolv.conf's {@code search} (default none). */
        public Builder searchList(List<String> domains) {
            this.searchList = List.copyOf(domains);
            return this;
        }

        /** resolv.conf's {@code ndots}: names with fewer dots try the search list first (default 1; 0-15). */
        public Builder ndots(int ndots) {
            this.ndots = ndots;
            return this;
        }

        /** The time source of TTLs, staleness and latency (default the system's nano time); tests move a fake one. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * The scheduler for pauses between attempts and the stale client timeout (default: the cache's own two daemon
         * {@code torii-dns} threads, stopped by {@link DnsCache#close()}). One given is not shut down by the cache. Its
         * tasks must not block.
         */
        public Builder executor(ScheduledExecutorService executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** Checks every setting and builds the cache. */
        public DnsCache build() {
            return new DnsCache(checked());
        }

        /** Checks every setting; a normalized copy with its zones' builders, ready for the cache. */
        private Builder checked() {
            checkLookupSettings();
            check(ndots >= 0 && ndots <= 15, "ndots", ndots, "0-15");
            for (String d : searchList) {
                String domain = d.toLowerCase(Locale.ROOT);
                check(
                        !domain.isEmpty() && !domain.startsWith(".") && literal(domain) == null,
                        "searchList",
                        d,
                        "domain names like ns.svc.cluster.local");
            }
            Map<String, Builder> built = new LinkedHashMap<>();
            for (var z : zones.entrySet()) {
                String zone = normalize(
                        z.getKey().toLowerCase(Locale.ROOT), z.getKey().endsWith("."));
                check(
                        !zone.isEmpty() && !zone.startsWith(".") && !zone.contains("..") && literal(zone) == null,
                        "zones",
                        "\"" + z.getKey() + "\"",
                        "a domain name like cluster.local; the root's settings are the top-level ones");
                Builder zb = z.getValue().apply(copy());
                try {
                    zb.checkLookupSettings();
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("zones." + zone + "." + e.getMessage(), e);
                }
                built.put(zone, zb);
            }
            Builder normalized = copy();
            normalized.searchList = searchList.stream()
                    .map(d -> normalize(d.toLowerCase(Locale.ROOT), d.endsWith(".")))
                    .toList();
            normalized.builtZones = built;
            return normalized;
        }

        /** The checks of the settings a zone may override (and of the rest: a zone's copy holds them too). */
        private void checkLookupSettings() {
            if (upstreamError != null) {
                throw new IllegalArgumentException(upstreamError);
            }
            if (upstreams.isEmpty()) {
                throw new IllegalArgumentException("upstreams: [] (expected: at least one server)");
            }
            for (InetSocketAddress a : upstreams) {
                if (a.isUnresolved()) {
                    throw new IllegalArgumentException("upstreams: " + a + " (expected: an IP address, not a name)");
                }
            }
            check(!minTtl.isNegative(), "minTtl", minTtl, ">= 0");
            check(maxTtl.isPositive(), "maxTtl", maxTtl, "> 0");
            check(maxTtl.compareTo(minTtl) >= 0, "maxTtl", maxTtl, ">= minTtl (" + format(minTtl) + ")");
            check(!maxNegativeTtl.isNegative(), "maxNegativeTtl", maxNegativeTtl, ">= 0");
            check(!staleFor.isNegative(), "staleFor", staleFor, ">= 0");
            check(staleAnswerTtl.toSeconds() >= 1, "staleAnswerTtl", staleAnswerTtl, ">= 1s");
            check(!staleClientTimeout.isNegative(), "staleClientTimeout", staleClientTimeout, ">= 0");
            check(
                    !failureTtl.isNegative() && failureTtl.compareTo(Duration.ofMinutes(5)) <= 0,
                    "failureTtl",
                    failureTtl,
                    ">= 0 and <= 5m");
            check(refreshAheadAt > 0 && refreshAheadAt <= 1, "refreshAheadAt", refreshAheadAt, "> 0 and <= 1");
            check(maxEntries > 0, "maxEntries", maxEntries, "> 0");
            check(maxInFlight > 0, "maxInFlight", maxInFlight, "> 0");
            check(queueLimit >= 0, "queueLimit", queueLimit, ">= 0");
            check(queryTimeout.isPositive(), "queryTimeout", queryTimeout, "> 0");
            check(attempts >= 1, "attempts", attempts, ">= 1");
            check(!retryBackoff.isNegative(), "retryBackoff", retryBackoff, ">= 0");
            check(
                    ednsPayloadSize == 0 || (ednsPayloadSize >= 512 && ednsPayloadSize <= 65_535),
                    "ednsPayloadSize",
                    ednsPayloadSize,
                    "0 or 512-65535");
        }

        private Builder copy() {
            Builder b = new Builder();
            b.upstreams = upstreams;
            b.upstreamError = upstreamError;
            b.minTtl = minTtl;
            b.maxTtl = maxTtl;
            b.maxNegativeTtl = maxNegativeTtl;
            b.staleFor = staleFor;
            b.staleAnswerTtl = staleAnswerTtl;
            b.staleClientTimeout = staleClientTimeout;
            b.failureTtl = failureTtl;
            b.refreshAheadAt = refreshAheadAt;
            b.maxEntries = maxEntries;
            b.maxInFlight = maxInFlight;
            b.queueLimit = queueLimit;
            b.queryTimeout = queryTimeout;
            b.attempts = attempts;
            b.retryBackoff = retryBackoff;
            b.forceTcp = forceTcp;
            b.ednsPayloadSize = ednsPayloadSize;
            b.ndots = ndots;
            b.ticker = ticker;
            b.executor = executor;
            return b;
        }

        private static void check(boolean ok, String name, Object value, String expected) {
            if (!ok) {
                String shown = value instanceof Duration d ? format(d) : String.valueOf(value);
                throw new IllegalArgumentException(name + ": " + shown + " (expected: " + expected + ")");
            }
        }

        private static String format(Duration d) {
            return d.toString().substring(2).toLowerCase(Locale.ROOT);
        }

        private static InetSocketAddress parseServer(String s) {
            String host = s;
            int port = 53;
            if (s.startsWith("[")) {
                int end = s.indexOf(']');
                if (end < 0) {
                    return null;
                }
                host = s.substring(1, end);
                String rest = s.substring(end + 1);
                if (!rest.isEmpty()) {
                    if (!rest.startsWith(":")) {
                        return null;
                    }
                    port = port(rest.substring(1));
                }
            } else if (s.indexOf(':') == s.lastIndexOf(':') && s.indexOf(':') >= 0) {
                host = s.substring(0, s.indexOf(':'));
                port = port(s.substring(s.indexOf(':') + 1));
            }
            if (port < 1 || port > 65_535) {
                return null;
            }
            try {
                return new InetSocketAddress(InetAddress.ofLiteral(host), port);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }

        private static int port(String s) {
            try {
                return Integer.parseInt(s);
            } catch (NumberFormatException e) {
                return -1;
            }
        }
    }
}
