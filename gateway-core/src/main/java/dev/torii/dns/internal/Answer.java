package dev.torii.dns.internal;

import dev.torii.dns.SrvTarget;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * One cached answer to a {@link Question}: positive (records of the asked type, after any CNAME chain) or negative
 * (NXDOMAIN, or a name without records of that type), with the instants, on the cache's ticker, at which it stops
 * being fresh, should be refreshed and stops being servable at all.
 *
 * <p>Immutable but for one flag, {@link #claimRefresh()}, which makes sure a background refresh is started at most once
 * per answer, and for caches of derived values (addresses, SRV targets, wire renderings) built on first use.
 */
public final class Answer {
    /** Longest CNAME chain followed, within one response and across follow-up queries (as dnsjava's lookups do). */
    public static final int MAX_CHAIN = 16;

    private static final VarHandle REFRESH_CLAIMED;

    static {
        try {
            REFRESH_CLAIMED = MethodHandles.lookup().findVarHandle(Answer.class, "refreshClaimed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Question question;
    private final int rcode;
    private final List<Record> records;
    private final List<Record> authority;
    /**
     * Built on first use (a racy read builds them twice at worst; the lists are immutable): the DNS server never asks,
     * and {@code ARecord.getAddress()} prints the owner name into each {@code InetAddress}, the largest allocation of a
     * miss after the upstream answer's parse in the JFR recordings.
     */
    private List<InetAddress> addresses;

    private List<SrvTarget> services;
    private final boolean hasData;
    private final long freshUntil;
    private final long refreshAt;
    private final long staleUntil;
    private final long retryAfter;
    private final boolean stale;
    private final int failedRefreshes;

    @SuppressWarnings("unused") // through REFRESH_CLAIMED
    private volatile boolean refreshClaimed;

    /** The records as last sent to a DNS client, with that TTL: reused while the remaining TTL (in seconds) is the same. */
    private volatile Rendered rendered;

    /** The answer and authority records with one TTL, as a response carries them. */
    public record Rendered(long ttl, List<Record> answer, List<Record> authority) {}

    /**
     * Whole responses in wire format as last sent to a DNS server's client, one per {@link #WIRE_VARIANTS variant} of
     * the request (RD flag, EDNS) and of the response (whole, or truncated for UDP), each with its TTL: the server patches the ID and the question in and reuses them
     * while the TTL is the same. Written without locks: a record's final fields make a racy read see a whole one, and
     * a lost write only costs one more rendering.
     */
    private final Wire[] wires = new Wire[WIRE_VARIANTS];

    /** How many request variants have their own wire rendering. */
    public static final int WIRE_VARIANTS = 8;

    private record Wire(long ttl, byte[] bytes) {}

    private Answer(
            Question question,
            int rcode,
            List<Record> records,
            List<Record> authority,
            boolean hasData,
            long freshUntil,
            long refreshAt,
            long staleUntil,
            long retryAfter,
            boolean stale,
            int failedRefreshes) {
        this.question = question;
        this.rcode = rcode;
        this.records = List.copyOf(records);
        this.authority = List.copyOf(authority);
        this.hasData = hasData;
        this.freshUntil = freshUntil;
        this.refreshAt = refreshAt;
        this.staleUntil = staleUntil;
        this.retryAfter = retryAfter;
        this.stale = stale;
        this.failedRefreshes = failedRefreshes;
    }

    /** What a response said: a complete answer, or a CNAME chain whose target must be asked for separately. */
    public sealed interface Parsed {}

    /** The response answered the question (positively or negatively). */
    public record Complete(Answer answer) implements Parsed {}

    /**
     * The response held a CNAME chain ending at {@code target} but no records of the asked type and no SOA: the
     * upstream did not follow the chain, so the cache does.
     */
    public record FollowCname(List<Record> chain, Name target, long chainTtlSeconds) implements Parsed {}

    /** Interprets an upstream response (rcode NOERROR or NXDOMAIN) to {@code question}. */
    public static Parsed parse(Question question, Name qname, Message response, long now, Policy policy) {
        List<Record> section = response.getSection(Section.ANSWER);
        int type = question.type();
        List<Record> chain = new ArrayList<>();
        Name current = qname;
        if (type != Type.CNAME && type != Type.ANY) {
            for (int hops = 0; hops < MAX_CHAIN; hops++) {
                Record next = null;
                for (Record r : section) {
                    if (r.getType() == Type.CNAME && r.getName().equals(current)) {
                        next = r;
                        break;
                    }
                }
                if (next == null) {
                    break;
                }
                chain.add(next);
                current = ((CNAMERecord) next).getTarget();
            }
        }
        List<Record> data = new ArrayList<>();
        for (Record r : section) {
            if ((type == Type.ANY || r.getType() == type) && r.getName().equals(current)) {
                data.add(r);
            }
        }
        long ttl = Long.MAX_VALUE;
        for (Record r : chain) {
            ttl = Math.min(ttl, r.getTTL());
        }
        for (Record r : data) {
            ttl = Math.min(ttl, r.getTTL());
        }
        List<Record> records = new ArrayList<>(chain);
        records.addAll(data);
        int rcode = response.getRcode();
        if (!data.isEmpty()) {
            return new Complete(
                    fresh(question, Rcode.NOERROR, records, List.of(), true, policy.positive(ttl), now, policy));
        }
        SOARecord soa = null;
        for (Record r : response.getSection(Section.AUTHORITY)) {
            if (r instanceof SOARecord s) {
                soa = s;
                break;
            }
        }
        if (rcode == Rcode.NOERROR && !chain.isEmpty() && soa == null) {
            return new FollowCname(chain, current, ttl);
        }
        // RFC 2308 section 5: a negative answer lives for the smaller of the SOA's TTL and its MINIMUM field. Without
        // an
        // SOA the RFC says not to cache at all; the cache keeps it for minTtl instead, because a search list turns
        // every lookup into several negative answers, and an upstream that omits the SOA must not pay for that.
        long negativeTtl = soa == null ? 0 : Math.min(soa.getTTL(), soa.getMinimum());
        negativeTtl = Math.min(negativeTtl, ttl);
        List<Record> auth = soa == null ? List.of() : List.of(soa);
        return new Complete(fresh(question, rcode, records, auth, false, policy.negative(negativeTtl), now, policy));
    }

    /** The answer for {@code question} made of a CNAME chain followed by the answer for its target. */
    public static Answer chained(
            Question question, List<Record> chain, long chainTtlSeconds, Answer target, long now, Policy policy) {
        List<Record> records = new ArrayList<>(chain);
        records.addAll(target.records);
        long remaining = Math.max(0, target.freshUntil - now);
        long ttlNanos = Math.min(
                remaining, target.hasData ? policy.positive(chainTtlSeconds) : policy.negative(chainTtlSeconds));
        return fresh(question, target.rcode, records, target.authority, target.hasData, ttlNanos, now, policy);
    }

    private static Answer fresh(
            Question question,
            int rcode,
            List<Record> records,
            List<Record> authority,
            boolean hasData,
            long ttlNanos,
            long now,
            Policy policy) {
        long freshUntil = now + ttlNanos;
        long refreshAt = now + (long) (ttlNanos * policy.refreshAheadAt());
        long staleUntil = freshUntil + policy.staleForNanos();
        return new Answer(
                question, rcode, records, authority, hasData, freshUntil, refreshAt, staleUntil, freshUntil, false, 0);
    }

    /**
     * This answer served stale: marked so, and not to be refreshed upstream before {@code retryAfter};
     * {@code failedRefreshes} counts the refreshes that failed since it expired (the backoff's exponent).
     */
    public Answer servedStale(long retryAfter, int failedRefreshes) {
        return new Answer(
                question,
                rcode,
                records,
                authority,
                hasData,
                freshUntil,
                Long.MAX_VALUE,
                staleUntil,
                Math.min(retryAfter, staleUntil),
                true,
                failedRefreshes);
    }

    /**
     * The records with their TTL set to {@code ttl} seconds. dnsjava records are immutable, so one rendering serves
     * every response of the same second; a race only builds it twice.
     */
    public Rendered render(long ttl) {
        Rendered r = rendered;
        if (r == null || r.ttl() != ttl) {
            r = new Rendered(ttl, withTtl(records, ttl), withTtl(authority, ttl));
            rendered = r;
        }
        return r;
    }

    private static List<Record> withTtl(List<Record> records, long ttl) {
        List<Record> out = new ArrayList<>(records.size());
        for (Record r : records) {
            // dnsjava keeps setTTL package-private; a record with another TTL is rebuilt from its rdata.
            out.add(
                    r.getTTL() == ttl
                            ? r
                            : Record.newRecord(r.getName(), r.getType(), r.getDClass(), ttl, r.rdataToWireCanonical()));
        }
        return List.copyOf(out);
    }

    /** The response rendered for {@code variant} with this TTL, or null; the caller must not change the array. */
    public byte[] wire(int variant, long ttl) {
        Wire w = wires[variant];
        return w != null && w.ttl() == ttl ? w.bytes() : null;
    }

    /** Keeps {@code bytes} as the response for {@code variant} with this TTL; the array must not change afterwards. */
    public void wire(int variant, long ttl, byte[] bytes) {
        wires[variant] = new Wire(ttl, bytes);
    }

    /** How many refreshes failed since this answer expired (0 while fresh). */
    public int failedRefreshes() {
        return failedRefreshes;
    }

    /** Claims the one background refresh this answer may start; true for the first caller only. */
    public boolean claimRefresh() {
        return REFRESH_CLAIMED.compareAndSet(this, false, true);
    }

    /** The question this answers. */
    public Question question() {
        return question;
    }

    /** {@code Rcode.NOERROR} or {@code Rcode.NXDOMAIN}. */
    public int rcode() {
        return rcode;
    }

    /** The CNAME chain (if any) then the records of the asked type, as the upstream sent them. */
    public List<Record> records() {
        return records;
    }

    /** The SOA of a negative answer, or nothing. */
    public List<Record> authority() {
        return authority;
    }

    /** Whether there are records of the asked type (false for NXDOMAIN and for a name without such records). */
    public boolean hasData() {
        return hasData;
    }

    /** The addresses of an A or AAAA answer, in the upstream's order; empty otherwise. */
    public List<InetAddress> addresses() {
        List<InetAddress> a = addresses;
        if (a == null) {
            a = addressesOf(records, question.type());
            addresses = a;
        }
        return a;
    }

    /** The targets of an SRV answer, by priority then weight (heaviest first); empty otherwise. */
    public List<SrvTarget> services() {
        List<SrvTarget> s = services;
        if (s == null) {
            s = servicesOf(records);
            services = s;
        }
        return s;
    }

    /** Ticker instant at which this answer stops being fresh. */
    public long freshUntil() {
        return freshUntil;
    }

    /** Ticker instant after which a use starts a background refresh. */
    public long refreshAt() {
        return refreshAt;
    }

    /** Ticker instant at which this answer can no longer be served, even stale. */
    public long staleUntil() {
        return staleUntil;
    }

    /** Ticker instant before which an expired answer is served stale without asking upstream again. */
    public long retryAfter() {
        return retryAfter;
    }

    /** Whether this answer was served after it stopped being fresh. */
    public boolean stale() {
        return stale;
    }

    private static List<InetAddress> addressesOf(List<Record> records, int type) {
        if (type != Type.A && type != Type.AAAA) {
            return List.of();
        }
        List<InetAddress> out = new ArrayList<>();
        for (Record r : records) {
            if (r instanceof ARecord a) {
                out.add(a.getAddress());
            } else if (r instanceof AAAARecord a) {
                out.add(a.getAddress());
            }
        }
        return List.copyOf(out);
    }

    private static List<SrvTarget> servicesOf(List<Record> records) {
        List<SrvTarget> out = new ArrayList<>();
        for (Record r : records) {
            if (r instanceof SRVRecord s) {
                out.add(new SrvTarget(
                        s.getPriority(),
                        s.getWeight(),
                        s.getPort(),
                        s.getTarget().toString(true)));
            }
        }
        if (out.isEmpty()) {
            return List.of();
        }
        out.sort(Comparator.comparingInt(SrvTarget::priority)
                .thenComparing(Comparator.comparingInt(SrvTarget::weight).reversed()));
        return List.copyOf(out);
    }
}
