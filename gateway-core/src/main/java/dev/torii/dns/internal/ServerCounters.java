package dev.torii.dns.internal;

import dev.torii.dns.DnsServerStats;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.xbill.DNS.Rcode;

/** The DNS server's counters: one {@link LongAdder} each, so the event loops never contend on a counter. */
public final class ServerCounters {
    public final LongAdder udpQueries = new LongAdder();
    public final LongAdder tcpQueries = new LongAdder();
    public final LongAdder truncated = new LongAdder();
    public final LongAdder rateLimited = new LongAdder();
    public final LongAdder malformed = new LongAdder();
    public final LongAdder dropped = new LongAdder();
    public final LongAdder tcpRejected = new LongAdder();
    public final AtomicInteger tcpConnections = new AtomicInteger();
    private final LongAdder[] rcodes = new LongAdder[32];

    public ServerCounters() {
        for (int i = 0; i < rcodes.length; i++) {
            rcodes[i] = new LongAdder();
        }
    }

    /** Counts one response with this (possibly extended) rcode. */
    public void response(int rcode) {
        rcodes[rcode & 31].increment();
    }

    public DnsServerStats snapshot() {
        Map<String, Long> responses = new LinkedHashMap<>();
        for (int i = 0; i < rcodes.length; i++) {
            long n = rcodes[i].sum();
            if (n > 0) {
                responses.put(Rcode.string(i), n);
            }
        }
        return new DnsServerStats(
                udpQueries.sum(),
                tcpQueries.sum(),
                responses,
                truncated.sum(),
                rateLimited.sum(),
                malformed.sum(),
                dropped.sum(),
                tcpConnections.get(),
                tcpRejected.sum());
    }
}
