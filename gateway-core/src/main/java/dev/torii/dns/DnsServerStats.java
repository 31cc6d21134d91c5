package dev.torii.dns;

import java.util.Map;

/**
 * A snapshot of a {@link DnsServer}'s counters, taken by {@link DnsServer#stats()}: counters since the server started
 * (they only grow) and one gauge. The cache behind it has its own, {@link DnsCacheStats}. Immutable; the counters are
 * read one after the other, not atomically together.
 *
 * @param udpQueries datagrams received (every one, including those later dropped or found malformed)
 * @param tcpQueries messages received over TCP
 * @param responses responses sent, by rcode mnemonic ({@code NOERROR}, {@code NXDOMAIN}, {@code SERVFAIL},
 *     {@code REFUSED}, {@code FORMERR}, {@code NOTIMP}, {@code BADVERS}); rcodes never sent are absent
 * @param truncated UDP responses sent with TC=1 because the answer did not fit the client's UDP size
 * @param rateLimited queries over their client's rate limit (dropped, or answered REFUSED)
 * @param malformed queries that could not be parsed (answered FORMERR when the header could be read, else dropped)
 * @param dropped queries not answered for another reason: a response instead of a query, too many queries waiting for
 *     upstream answers, or a UDP socket that could not take more
 * @param tcpConnections TCP connections open now
 * @param tcpRejected TCP connections closed at once because {@code maxTcpConnections} were open
 */
public record DnsServerStats(
        long udpQueries,
        long tcpQueries,
        Map<String, Long> responses,
        long truncated,
        long rateLimited,
        long malformed,
        long dropped,
        int tcpConnections,
        long tcpRejected) {

    /** Copies the map. */
    public DnsServerStats {
        responses = Map.copyOf(responses);
    }

    /** Responses sent with rcode {@code mnemonic} (0 when none were). */
    public long responses(String mnemonic) {
        return responses.getOrDefault(mnemonic, 0L);
    }
}
