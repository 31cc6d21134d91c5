package dev.torii.dns.internal;

import dev.torii.dns.DnsRateLimit;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.net.InetAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;

/**
 * Turns one query's bytes into the response's bytes, for UDP and TCP alike: the DNS server's logic, without the
 * sockets.
 *
 * <pre>
 *  bytes ─▶ rate limit (per client address) ── over ─▶ drop, or REFUSED
 *    │
 *  WireQuery.parse ── FAST: the common query ─▶ cache lookup ── hit ─▶ cached wire rendering of the answer for this
 *    │                                                    │            variant and TTL, ID and question patched in
 *    │                                                    └─ miss ─▶ later, the same, on the cache's thread
 *    │                 (the first rendering of an answer, variant and TTL: ResponseWire for A/AAAA/CNAME/SOA, else dnsjava)
 *    └─ SLOW: anything else ─▶ dnsjava parses (FORMERR if it cannot) ─▶ DnsCache.query ─▶ dnsjava writes
 * </pre>
 *
 * <p>UDP responses larger than the client's size (512 bytes, or its EDNS size up to 1232) go out truncated: header,
 * question and OPT with TC=1, so the client asks again over TCP. TCP responses carry their two-byte length prefix.
 *
 * <p>Buffers: the query is the caller's and is not retained; every response is a new buffer from the caller's
 * allocator that the receiver of it owns (the caller, or {@link Later#send}). Thread-safe.
 */
public final class QueryResponder {
    private static final int TRUNCATED = 4;

    private final CacheAccess cache;
    private final ServerCounters counters;
    private final ClientLimiter limiter;
    private final DnsRateLimit.OverLimit overLimit;
    private final int maxPending;
    private final AtomicInteger pending = new AtomicInteger();
    private final boolean fastPath;

    /** What {@link #respond} returns when the response will be handed to {@link Later#send} (never released). */
    public static final ByteBuf PENDING = Unpooled.unreleasableBuffer(Unpooled.EMPTY_BUFFER);

    /** How a response that was not ready at once is delivered, from whatever thread completed it. */
    @FunctionalInterface
    public interface Later {
        /** Takes ownership of {@code response}. */
        void send(ByteBuf response);
    }

    public QueryResponder(
            CacheAccess cache, ServerCounters counters, DnsRateLimit rateLimit, int maxPending, boolean fastPath) {
        this.cache = cache;
        this.counters = counters;
        this.limiter = rateLimit == null ? null : new ClientLimiter(rateLimit);
        this.overLimit = rateLimit == null ? DnsRateLimit.OverLimit.DROP : rateLimit.overLimit();
        this.maxPending = maxPending;
        this.fastPath = fastPath;
    }

    /** Queries waiting for an upstream answer now. */
    public int pending() {
        return pending.get();
    }

    /**
     * Answers {@code query} (from its reader index to its writer index; not released here).
     *
     * @return the response; {@link #PENDING} when it will be handed to {@code later} (exactly once); null when the
     *     query is dropped
     */
    public ByteBuf respond(ByteBuf query, InetAddress client, boolean tcp, ByteBufAllocator alloc, Later later) {
        (tcp ? counters.tcpQueries : counters.udpQueries).increment();
        WireQuery q = WireQuery.parse(query);
        switch (q.kind()) {
            case SHORT -> {
                counters.malformed.increment();
                return null;
            }
            case RESPONSE -> {
                counters.dropped.increment();
                return null;
            }
            default -> {}
        }
        if (limiter != null && !limiter.tryAcquire(client)) {
            counters.rateLimited.increment();
            return overLimit == DnsRateLimit.OverLimit.DROP
                    ? null
                    : headerOnly(alloc, tcp, q, query, Rcode.REFUSED, q.kind() == WireQuery.Kind.FAST);
        }
        if (q.kind() == WireQuery.Kind.FAST && fastPath) {
            return fast(q, query, tcp, alloc, later);
        }
        return slow(q, query, tcp, alloc, later);
    }

    private ByteBuf fast(WireQuery q, ByteBuf query, boolean tcp, ByteBufAllocator alloc, Later later) {
        CompletableFuture<Answer> lookup = cache.lookup(q.question());
        if (lookup.isDone()) {
            // A hit; or a lookup that failed at once (the cache closed, or over its in-flight cap with nothing stale).
            return lookup.isCompletedExceptionally()
                    ? headerOnly(alloc, tcp, q, query, Rcode.SERVFAIL, true)
                    : encode(q, query, lookup.join(), tcp, alloc);
        }
        if (!admitPending()) {
            return null;
        }
        ByteBuf copy = Unpooled.wrappedBuffer(ByteBufUtil.getBytes(query));
        lookup.whenComplete((answer, error) -> {
            pending.decrementAndGet();
            later.send(
                    error == null
                            ? encode(q, copy, answer, tcp, alloc)
                            : headerOnly(alloc, tcp, q, copy, Rcode.SERVFAIL, true));
        });
        return PENDING;
    }

    private boolean admitPending() {
        if (pending.incrementAndGet() > maxPending) {
            pending.decrementAndGet();
            counters.dropped.increment();
            return false;
        }
        return true;
    }

    /** The rendering of {@code answer} for this query's variant and the TTL it has now, with ID and question patched. */
    private ByteBuf encode(WireQuery q, ByteBuf query, Answer answer, boolean tcp, ByteBufAllocator alloc) {
        long ttl = cache.ttlSeconds(answer);
        int variant = q.variant();
        byte[] wire = answer.wire(variant, ttl);
        Message request = null;
        if (wire == null) {
            // The first response with this answer and TTL (every miss): written directly for the common shapes,
            // by dnsjava for the rest.
            wire = ResponseWire.render(q, query, answer, ttl, cache.responseEdnsSize());
            if (wire == null) {
                request = message(query);
                wire = cache.response(request, answer).toWire();
            }
            answer.wire(variant, ttl, wire);
        }
        if (!tcp && wire.length > q.udpSize()) {
            byte[] whole = wire;
            wire = answer.wire(variant | TRUNCATED, ttl);
            if (wire == null) {
                Message truncated = cache.error(request != null ? request : message(query), answer.rcode());
                truncated.getHeader().setFlag(Flags.TC);
                wire = truncated.toWire();
                if (wire.length > q.udpSize()) {
                    wire = whole; // cannot happen: header, question and OPT fit in 512 bytes
                }
                answer.wire(variant | TRUNCATED, ttl, wire);
            }
            counters.truncated.increment();
        }
        counters.response(wire[3] & 0xF);
        ByteBuf out = alloc.ioBuffer(wire.length + (tcp ? 2 : 0));
        if (tcp) {
            out.writeShort(wire.length);
        }
        int base = out.writerIndex();
        out.writeBytes(wire);
        out.setShort(base, q.id());
        // The client's own question, in its own letter case (DNS 0x20); same length as the rendered one's.
        out.setBytes(base + WireQuery.HEADER, query, query.readerIndex() + WireQuery.HEADER, q.questionLength());
        return out;
    }

    private ByteBuf slow(WireQuery q, ByteBuf query, boolean tcp, ByteBufAllocator alloc, Later later) {
        Message request;
        try {
            request = new Message(ByteBufUtil.getBytes(query));
        } catch (IOException | RuntimeException e) {
            counters.malformed.increment();
            return headerOnly(alloc, tcp, q, query, Rcode.FORMERR, false);
        }
        OPTRecord opt = request.getOPT();
        if (opt != null && opt.getVersion() != 0) {
            // RFC 6891 section 6.1.3: BADVERS (16), an extended rcode carried in the OPT record.
            Message response = cache.error(request, Rcode.NOERROR);
            response.removeAllRecords(Section.ADDITIONAL);
            response.addRecord(new OPTRecord(1232, Rcode.BADVERS >> 4, 0), Section.ADDITIONAL);
            return write(response, udpSize(request), tcp, alloc);
        }
        CompletableFuture<Message> answer = cache.query(request);
        Message now = answer.getNow(null);
        if (now != null) {
            return write(now, udpSize(request), tcp, alloc);
        }
        if (!admitPending()) {
            return null;
        }
        answer.whenComplete((response, error) -> {
            pending.decrementAndGet();
            later.send(
                    error == null
                            ? write(response, udpSize(request), tcp, alloc)
                            : write(cache.error(request, Rcode.SERVFAIL), udpSize(request), tcp, alloc));
        });
        return PENDING;
    }

    private ByteBuf write(Message response, int udpSize, boolean tcp, ByteBufAllocator alloc) {
        byte[] wire = tcp ? response.toWire(65_535) : response.toWire(udpSize);
        if (!tcp && (wire[2] & 0x02) != 0) {
            counters.truncated.increment();
        }
        counters.response(response.getRcode());
        ByteBuf out = alloc.ioBuffer(wire.length + (tcp ? 2 : 0));
        if (tcp) {
            out.writeShort(wire.length);
        }
        return out.writeBytes(wire);
    }

    /** A response of header (and, with {@code withQuestion}, the question) only: when nothing else can be said. */
    private ByteBuf headerOnly(
            ByteBufAllocator alloc, boolean tcp, WireQuery q, ByteBuf query, int rcode, boolean withQuestion) {
        int questionLength = withQuestion ? q.questionLength() : 0;
        int length = WireQuery.HEADER + questionLength;
        ByteBuf out = alloc.ioBuffer(length + (tcp ? 2 : 0));
        if (tcp) {
            out.writeShort(length);
        }
        out.writeShort(q.id());
        // QR, the query's opcode and RD, RA, the rcode.
        out.writeShort(0x8000 | (q.flags() & 0x7900) | 0x0080 | (rcode & 0xF));
        out.writeShort(withQuestion ? 1 : 0);
        out.writeShort(0);
        out.writeShort(0);
        out.writeShort(0);
        if (withQuestion) {
            out.writeBytes(query, query.readerIndex() + WireQuery.HEADER, questionLength);
        }
        counters.response(rcode);
        return out;
    }

    private static Message message(ByteBuf query) {
        try {
            return new Message(ByteBufUtil.getBytes(query));
        } catch (IOException e) {
            // WireQuery.parse accepted these bytes; dnsjava reads a superset.
            throw new IllegalStateException("query that WireQuery parsed is not readable by dnsjava", e);
        }
    }

    private static int udpSize(Message request) {
        OPTRecord opt = request.getOPT();
        return opt == null ? 512 : WireQuery.udpSize(opt.getPayloadSize());
    }
}
