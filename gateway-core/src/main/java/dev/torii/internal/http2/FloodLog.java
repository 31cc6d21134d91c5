package dev.torii.internal.http2;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.torii.Http2Limits;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs the HTTP/2 floods Torii stops at most once per client address per interval: an attacker that opens connection
 * after connection (a SETTINGS flood once wrote 3,169 INFO lines in 20 s) costs one line per interval, and the
 * {@code torii_gateway_http2_floods_total{kind}} counter keeps the full count. The line names the kind, the address
 * and how many floods of that address were not logged in the previous interval.
 *
 * <p>Memory is bounded: at most {@code maxClients} addresses are remembered (Caffeine evicts the least recently seen
 * beyond that), each for one interval after its logged line. Thread-safe: every event loop reports here.
 */
public final class FloodLog {
    /** The interval of the standalone gateway: one line per client address per minute. */
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(60);
    /** Client addresses remembered at most. */
    public static final int DEFAULT_MAX_CLIENTS = 10_000;

    private static final Logger log = LoggerFactory.getLogger(FloodLog.class);

    /** Per client address: floods seen since its last logged line. */
    private final Cache<InetAddress, AtomicLong> recent;

    private final Duration interval;

    /** A flood log with a real clock. */
    public FloodLog(Duration interval, int maxClients) {
        this(interval, maxClients, Ticker.systemTicker());
    }

    /** A flood log with {@code ticker} as its clock (tests advance it instead of sleeping). */
    FloodLog(Duration interval, int maxClients, Ticker ticker) {
        this.interval = interval;
        this.recent = Caffeine.newBuilder()
                .expireAfterWrite(interval)
                .maximumSize(maxClients)
                .ticker(ticker)
                .executor(Runnable::run)
                .build();
    }

    /**
     * Reports a flood of {@code kind} from {@code client}, stopped as {@code detail} says; logs it at INFO unless this
     * address was logged less than an interval ago.
     *
     * @return whether a line was written
     */
    public boolean report(Http2Limits.Flood kind, SocketAddress client, String detail) {
        InetAddress address = client instanceof InetSocketAddress a ? a.getAddress() : null;
        if (address == null) {
            log.info("HTTP/2 {} flood from {}: {}", kind.tag(), client, detail);
            return true;
        }
        AtomicLong fresh = new AtomicLong();
        AtomicLong seen = recent.asMap().putIfAbsent(address, fresh);
        if (seen != null) {
            seen.incrementAndGet();
            return false;
        }
        log.info(
                "HTTP/2 {} flood from {}: {} (further floods from this address are counted in "
                        + "torii_gateway_http2_floods_total, not logged, for {} s)",
                kind.tag(),
                address.getHostAddress(),
                detail,
                interval.toSeconds());
        return true;
    }

    /** Client addresses remembered now (for tests of the bound). */
    long remembered() {
        recent.cleanUp();
        return recent.estimatedSize();
    }
}
