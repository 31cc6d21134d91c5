package dev.torii.upstream;

import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * The connection pools and connects of one upstream, summed over the gateway's event loops; taken by
 * {@link dev.torii.Gateway#upstreamPools()}. Immutable and thread-safe. The numbers are read one after the other from
 * counters that each event loop keeps for itself, not atomically together.
 *
 * @param upstream the upstream's name, as configured
 * @param inUse upstream connections open (or opening) and not idle: HTTP/1.1 connections carrying an exchange, HTTP/2
 *     connections with at least one stream, connections still connecting
 * @param idle connections open and idle: HTTP/1.1 connections kept for reuse, HTTP/2 connections without streams
 * @param connectsOk connects that gave a usable connection (TCP, then TLS, then for HTTP/2 the peer's SETTINGS)
 * @param connectsFailed connects that failed, by reason (every reason present, 0 when none)
 */
public record UpstreamPoolStats(
        String upstream, long inUse, long idle, long connectsOk, Map<ConnectFailure, Long> connectsFailed) {

    /** Copies {@code connectsFailed}, filling missing reasons with 0. */
    public UpstreamPoolStats {
        Objects.requireNonNull(upstream, "upstream");
        var all = new EnumMap<ConnectFailure, Long>(ConnectFailure.class);
        for (ConnectFailure f : ConnectFailure.values()) {
            all.put(f, connectsFailed.getOrDefault(f, 0L));
        }
        connectsFailed = Map.copyOf(all);
    }

    /** Failed connects of {@code reason}. */
    public long connectsFailed(ConnectFailure reason) {
        return connectsFailed.get(reason);
    }
}
