package dev.torii.dns.internal;

import java.util.concurrent.CompletableFuture;
import org.xbill.DNS.Message;

/**
 * The DNS cache as the DNS server sees it: record-level lookups, the TTL a served answer carries now, and responses
 * built from answers. Implemented by {@link dev.torii.dns.DnsCache}; not API. Thread-safe.
 */
public interface CacheAccess {
    /** One record lookup: a hit (a completed future), a stale answer, or the single upstream lookup of the question. */
    CompletableFuture<Answer> lookup(Question q);

    /** The TTL, in seconds, that {@code answer} carries if served now (the stale TTL for a stale answer). */
    long ttlSeconds(Answer answer);

    /** The response to {@code request} made of {@code answer}, with {@link #ttlSeconds}. */
    Message response(Message request, Answer answer);

    /** The UDP size a response's OPT record advertises. */
    int responseEdnsSize();

    /** A response to {@code request} with no records and this rcode. */
    Message error(Message request, int rcode);

    /** {@link dev.torii.dns.DnsCache#query}. */
    CompletableFuture<Message> query(Message request);

    /** The rcode for a query of this opcode, class and type without a lookup, or NOERROR when it is looked up. */
    int refusal(int opcode, int dclass, int type);
}
