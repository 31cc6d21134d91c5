package dev.torii.dns;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * A per-client query rate limit of a {@link DnsServer}: each source IP address gets a token bucket of {@code burst}
 * queries that refills at {@code rate} queries per {@code per} (Bucket4j, greedy refill). Immutable.
 *
 * <p>Over the limit a query is dropped, as unbound's {@code ip-ratelimit} does (a client retries after its timeout, and
 * a spoofed flood gets no reflected traffic), or answered REFUSED when {@code overLimit} says so. Buckets live in a
 * map bounded to {@code maxClients} addresses (least recently used evicted first) and dropped after a minute without
 * queries, so a flood from many addresses costs bounded memory.
 *
 * @param rate queries a client may send per {@code per} in the long run (> 0)
 * @param per the period of {@code rate} (> 0)
 * @param burst queries a client may send at once after a quiet spell (>= 1; usually {@code rate} or more)
 * @param overLimit what happens to a query over the limit
 * @param maxClients how many client addresses are tracked at most (> 0)
 */
public record DnsRateLimit(long rate, Duration per, long burst, OverLimit overLimit, int maxClients) {
    /** Client addresses tracked by default. */
    public static final int DEFAULT_MAX_CLIENTS = 100_000;

    /** What a {@link DnsServer} does with a query over its client's limit. */
    public enum OverLimit {
        /** No answer at all, as unbound's {@code ip-ratelimit} (the default). */
        DROP,
        /** An answer with rcode REFUSED and no records. */
        REFUSE;

        /** The name in configuration files: {@code drop}, {@code refuse}. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Checks every value; messages name the value and what was expected. */
    public DnsRateLimit {
        Objects.requireNonNull(per, "per");
        Objects.requireNonNull(overLimit, "overLimit");
        if (rate <= 0) {
            throw new IllegalArgumentException("rate: " + rate + " (expected: > 0)");
        }
        if (!per.isPositive()) {
            throw new IllegalArgumentException("per: " + per + " (expected: > 0)");
        }
        if (burst < 1) {
            throw new IllegalArgumentException("burst: " + burst + " (expected: >= 1)");
        }
        if (maxClients <= 0) {
            throw new IllegalArgumentException("maxClients: " + maxClients + " (expected: > 0)");
        }
    }

    /** {@code rate} queries per {@code per} with a burst of {@code rate}, dropping what is over, 100,000 clients. */
    public static DnsRateLimit of(long rate, Duration per) {
        return new DnsRateLimit(rate, per, rate, OverLimit.DROP, DEFAULT_MAX_CLIENTS);
    }

    /** This limit with another burst. */
    public DnsRateLimit withBurst(long burst) {
        return new DnsRateLimit(rate, per, burst, overLimit, maxClients);
    }

    /** This limit with another action over the limit. */
    public DnsRateLimit withOverLimit(OverLimit overLimit) {
        return new DnsRateLimit(rate, per, burst, overLimit, maxClients);
    }

    /** This limit with another bound on the clients tracked. */
    public DnsRateLimit withMaxClients(int maxClients) {
        return new DnsRateLimit(rate, per, burst, overLimit, maxClients);
    }
}
