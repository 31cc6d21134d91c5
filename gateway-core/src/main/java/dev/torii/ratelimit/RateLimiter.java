package dev.torii.ratelimit;

import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.LocalResponse;
import dev.torii.ProxyError;
import dev.torii.ratelimit.RateLimitDecision.Outcome;
import dev.torii.ratelimit.RateLimitPolicy.StoreFailure;
import dev.torii.ratelimit.internal.LocalBuckets;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.Connection;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.ConsumptionProbe;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@link RateLimitPolicy}: its buckets, its counters and the {@link Hook} that enforces it.
 *
 * <p>How a request is decided. The policy's {@link RateLimitKey key} names the buckets; a local policy takes a token
 * from this process's {@link LocalBuckets} (a bounded Caffeine cache of lock-free Bucket4j buckets) on the calling
 * thread, which costs well under a microsecond. A Redis policy sends one asynchronous compare-and-swap through the
 * {@link RedisStore} and answers when it completes; if it has not completed within {@code storeTimeout}, or failed,
 * the policy's {@link StoreFailure} decides: {@code OPEN} takes the token from the local buckets instead,
 * {@code CLOSED} refuses with {@link ProxyError#RATE_LIMIT_UNAVAILABLE}. Each change between "Redis answers" and "Redis
 * fails" is logged once.
 *
 * <p>Over the limit, the hook answers {@link ProxyError#RATE_LIMITED} (429) as the gateway's {@link ErrorResponder}
 * renders it, plus {@code Retry-After} and the IETF httpapi {@code RateLimit-Policy} and {@code RateLimit} fields
 * (draft-ietf-httpapi-ratelimit-headers), e.g. {@code RateLimit-Policy: "per-ip";q=100;w=1} and
 * {@code RateLimit: "per-ip";r=0;t=1}. A shadow policy lets the request through and counts it instead.
 *
 * <p>Thread-safe: one limiter serves every event loop. {@link #close()} does not close the shared {@link RedisStore}.
 */
public final class RateLimiter {
    private static final Logger log = LoggerFactory.getLogger(RateLimiter.class);
    private static final long SHADOW_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final RateLimitPolicy policy;
    private final RedisStore store;
    private final LocalBuckets local;
    private final BucketConfiguration configuration;
    /** The configuration as Bucket4j's asynchronous builder takes it (the plain overload is deprecated). */
    private final java.util.function.Supplier<CompletableFuture<BucketConfiguration>> remoteConfiguration;

    private final LongSupplier nanoTime;
    private final byte[] redisPrefix;
    private final String policyHeader;
    private final LongAdder allowed = new LongAdder();
    private final LongAdder limited = new LongAdder();
    private final LongAdder shadowLimited = new LongAdder();
    private final LongAdder storeFailures = new LongAdder();
    private final LongAdder storeRejected = new LongAdder();
    private final AtomicBoolean storeAvailable = new AtomicBoolean(true);
    private final AtomicLong nextShadowLog = new AtomicLong(Long.MIN_VALUE);
    private final LongAdder shadowSinceLog = new LongAdder();

    private RateLimiter(RateLimitPolicy policy, RedisStore store, LongSupplier nanoTime) {
        this.policy = policy;
        this.store = store;
        this.nanoTime = nanoTime;
        this.configuration = LocalBuckets.configuration(policy.bandwidths());
        CompletableFuture<BucketConfiguration> known = CompletableFuture.completedFuture(configuration);
        this.remoteConfiguration = () -> known;
        this.local =
                new LocalBuckets(configuration, LocalBuckets.idle(policy.bandwidths()), policy.maxKeys(), nanoTime);
        this.redisPrefix =
                store == null ? null : (store.keyPrefix() + policy.name() + ":").getBytes(StandardCharsets.UTF_8);
        this.policyHeader = policyHeader(policy);
    }

    /**
     * A limiter for a {@link RateLimitPolicy.Store#LOCAL local} policy.
     *
     * @throws IllegalArgumentException if the policy needs a Redis store
     */
    public static RateLimiter local(RateLimitPolicy policy) {
        return builder(policy).build();
    }

    /** A builder for a limiter of {@code policy}. */
    public static Builder builder(RateLimitPolicy policy) {
        return new Builder(policy);
    }

    /** The policy this limiter runs. */
    public RateLimitPolicy policy() {
        return policy;
    }

    /**
     * Takes a token of {@code key} from this process's buckets now, whatever the policy's store (scripts, and the
     * fallback of a Redis policy that fails open). Counted in {@link #stats()}.
     */
    public RateLimitDecision tryAcquire(String key) {
        Objects.requireNonNull(key, "key");
        return count(fromProbe(local.tryConsume(key)));
    }

    /**
     * Takes a token of {@code key} from the policy's store: at once for a local policy, when Redis answers (or
     * {@code storeTimeout} passes) for a Redis one. The stage never fails; it may complete on a Redis or timer
     * thread.
     */
    public CompletionStage<RateLimitDecision> acquire(String key) {
        Objects.requireNonNull(key, "key");
        if (store == null) {
            return CompletableFuture.completedFuture(tryAcquire(key));
        }
        byte[] k = redisKey(key);
        return store.proxyManager()
                .thenCompose(pm -> pm.builder().build(k, remoteConfiguration).tryConsumeAndReturnRemaining(1))
                .orTimeout(policy.storeTimeout().toNanos(), TimeUnit.NANOSECONDS)
                .handle((probe, error) -> {
                    if (error == null) {
                        storeAnswered();
                        return count(fromProbe(probe));
                    }
                    storeFailed(error);
                    if (policy.onStoreFailure() == StoreFailure.OPEN) {
                        return tryAcquire(key);
                    }
                    storeRejected.increment();
                    return new RateLimitDecision(
                            Outcome.STORE_UNAVAILABLE, 0, 0, policy.bandwidths().getFirst());
                });
    }

    private byte[] redisKey(String key) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[redisPrefix.length + k.length];
        System.arraycopy(redisPrefix, 0, all, 0, redisPrefix.length);
        System.arraycopy(k, 0, all, redisPrefix.length, k.length);
        return all;
    }

    private void storeAnswered() {
        if (!storeAvailable.get() && storeAvailable.compareAndSet(false, true)) {
            log.info("rate limit '{}': redis store {} answers again", policy.name(), store.address());
        }
    }

    private void storeFailed(Throwable error) {
        storeFailures.increment();
        if (storeAvailable.get() && storeAvailable.compareAndSet(true, false)) {
            Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                    ? error.getCause()
                    : error;
            log.warn(
                    "rate limit '{}': redis store {} failed ({}); {} until it answers",
                    policy.name(),
                    store.address(),
                    cause instanceof java.util.concurrent.TimeoutException
                            ? "no answer within " + policy.storeTimeout().toMillis() + " ms"
                            : cause.toString(),
                    policy.onStoreFailure() == StoreFailure.OPEN
                            ? "deciding with this process's buckets"
                            : "refusing with 503");
        }
    }

    private RateLimitDecision fromProbe(ConsumptionProbe probe) {
        if (probe.isConsumed()) {
            return new RateLimitDecision(
                    Outcome.ALLOWED,
                    probe.getRemainingTokens(),
                    0,
                    policy.bandwidths().getFirst());
        }
        return new RateLimitDecision(
                policy.shadow() ? Outcome.SHADOW_LIMITED : Outcome.LIMITED,
                0,
                probe.getNanosToWaitForRefill(),
                refusing(probe.getNanosToWaitForRefill()));
    }

    /**
     * The bandwidth that refused: a bucket short of one token waits at most {@code per / rate}, so it is the one with
     * the smallest such interval that still covers the wait (the last when none does, after rounding).
     */
    private Bandwidth refusing(long waitNanos) {
        List<Bandwidth> all = policy.bandwidths();
        Bandwidth best = null;
        long bestInterval = Long.MAX_VALUE;
        for (Bandwidth b : all) {
            long interval = b.per().toNanos() / b.rate() + 1;
            if (interval >= waitNanos && interval < bestInterval) {
                best = b;
                bestInterval = interval;
            }
        }
        return best != null ? best : all.getLast();
    }

    private RateLimitDecision count(RateLimitDecision d) {
        switch (d.outcome()) {
            case ALLOWED -> allowed.increment();
            case LIMITED -> limited.increment();
            case SHADOW_LIMITED -> {
                shadowLimited.increment();
                logShadow();
            }
            case STORE_UNAVAILABLE -> {}
        }
        return d;
    }

    /** One line per ten seconds at most, however hard the shadow policy is hit. */
    private void logShadow() {
        shadowSinceLog.increment();
        long now = nanoTime.getAsLong();
        long next = nextShadowLog.get();
        if ((next == Long.MIN_VALUE || now - next >= 0)
                && nextShadowLog.compareAndSet(next, now + SHADOW_LOG_INTERVAL_NANOS)) {
            log.info(
                    "rate limit '{}' (shadow): {} request(s) over the limit let through",
                    policy.name(),
                    shadowSinceLog.sumThenReset());
        }
    }

    /**
     * The {@link dev.torii.Phase#REQUEST} hook enforcing this policy, answering through {@code responder} (pass the
     * gateway's). Add it to {@link dev.torii.Gateway.Builder#hook} (every request) or {@link
     * dev.torii.route.Route.Builder#hook} (one route; the {@code route} key needs this).
     */
    public Hook hook(ErrorResponder responder) {
        Objects.requireNonNull(responder, "responder");
        String name = "rateLimit:" + policy.name();
        return new Hook() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public HookResult onRequest(Exchange exchange) {
                String key = policy.key().of(exchange);
                if (key == null) {
                    return HookResult.proceed();
                }
                if (store == null) {
                    return result(tryAcquire(key), responder, exchange);
                }
                return HookResult.later(
                        acquire(key).thenApplyAsync(d -> result(d, responder, exchange), exchange.executor()));
            }
        };
    }

    /**
     * The {@link dev.torii.Phase#CONNECT} hook enforcing this policy on TCP connections: one token per accepted
     * connection, keyed by the client's IP address; over the limit (or with a Redis store failing closed) the
     * connection is closed before a backend is contacted. Add it to {@link dev.torii.tcp.TcpListener.Builder#hook}.
     *
     * @throws IllegalArgumentException if the policy's key is not {@code clientIp} (a connection has no headers,
     *     cookies or route)
     */
    public Hook connectionHook() {
        if (policy.key() != RateLimitKey.clientIp()) {
            throw new IllegalArgumentException("policy '" + policy.name() + "' key: " + policy.key()
                    + " (expected: clientIp for TCP connections)");
        }
        String name = "rateLimit:" + policy.name();
        return new Hook() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public ConnectResult onConnect(Connection connection) {
                InetAddress a = connection.clientAddress().getAddress();
                String key = a == null ? connection.clientAddress().getHostString() : a.getHostAddress();
                if (store == null) {
                    return tryAcquire(key).allowed() ? ConnectResult.proceed() : ConnectResult.reject();
                }
                return ConnectResult.later(
                        acquire(key).thenApply(d -> d.allowed() ? ConnectResult.proceed() : ConnectResult.reject()));
            }
        };
    }

    /**
     * The hook enforcing this policy on listener {@code listener} only: on each request it accepted
     * ({@link dev.torii.Phase#REQUEST}, like {@link #hook}) when it is an http or https listener, on each connection
     * ({@link dev.torii.Phase#CONNECT}, like {@link #connectionHook}) when it is a tcp listener. Add it as a global hook
     * ({@link dev.torii.Gateway.Builder#hook}); exchanges and connections of other listeners pass untouched.
     *
     * @throws IllegalArgumentException if the policy is keyed by {@code route} (listener limits run before routing)
     */
    public Hook listenerHook(String listener, ErrorResponder responder) {
        Objects.requireNonNull(listener, "listener");
        if (policy.key() == RateLimitKey.route()) {
            throw new IllegalArgumentException("policy '" + policy.name() + "' key: route (expected: another key on"
                    + " listener '" + listener + "'; listener limits run before routing)");
        }
        Hook requests = hook(responder);
        // A connection has only its client address to count by: other keys do not apply to tcp listeners.
        Hook connections = policy.key() == RateLimitKey.clientIp() ? connectionHook() : null;
        String name = "rateLimit:" + policy.name() + "@" + listener;
        return new Hook() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public HookResult onRequest(Exchange exchange) {
                return listener.equals(exchange.listener()) ? requests.onRequest(exchange) : HookResult.proceed();
            }

            @Override
            public ConnectResult onConnect(Connection connection) {
                return connections != null && listener.equals(connection.listener())
                        ? connections.onConnect(connection)
                        : ConnectResult.proceed();
            }
        };
    }

    private HookResult result(RateLimitDecision d, ErrorResponder responder, Exchange exchange) {
        return switch (d.outcome()) {
            case ALLOWED, SHADOW_LIMITED -> HookResult.proceed();
            case LIMITED -> HookResult.respond(limitedResponse(d, responder, exchange));
            case STORE_UNAVAILABLE ->
                HookResult.respond(responder
                        .render(ProxyError.RATE_LIMIT_UNAVAILABLE, exchange)
                        .withHeaders(List.of(Map.entry("cache-control", "no-store"))));
        };
    }

    /** The 429: the responder's rendering plus {@code Retry-After}, {@code RateLimit-Policy} and {@code RateLimit}. */
    LocalResponse limitedResponse(RateLimitDecision d, ErrorResponder responder, Exchange exchange) {
        long t = d.retryAfterSeconds();
        var headers = new ArrayList<Map.Entry<String, String>>(3);
        headers.add(Map.entry("retry-after", Long.toString(t)));
        headers.add(Map.entry("ratelimit-policy", policyHeader));
        headers.add(Map.entry("ratelimit", rateLimitHeader(d)));
        return responder.render(ProxyError.RATE_LIMITED, exchange).withHeaders(headers);
    }

    /**
     * The {@code RateLimit} field of a decision: {@code "NAME";r=REMAINING;t=SECONDS} (the item names the policy
     * entry of the bandwidth that decided).
     */
    public String rateLimitHeader(RateLimitDecision d) {
        return "\"" + itemName(d.bandwidth()) + "\";r=" + d.remaining() + ";t=" + d.retryAfterSeconds();
    }

    /** The {@code RateLimit-Policy} field: one item per bandwidth, quota {@code q} = rate, window {@code w}. */
    public String rateLimitPolicyHeader() {
        return policyHeader;
    }

    private String itemName(Bandwidth b) {
        List<Bandwidth> all = policy.bandwidths();
        return all.size() == 1 ? policy.name() : policy.name() + "/" + (all.indexOf(b) + 1);
    }

    private static String policyHeader(RateLimitPolicy p) {
        var sb = new StringBuilder();
        List<Bandwidth> all = p.bandwidths();
        for (int i = 0; i < all.size(); i++) {
            Bandwidth b = all.get(i);
            if (i > 0) {
                sb.append(", ");
            }
            sb.append('"')
                    .append(all.size() == 1 ? p.name() : p.name() + "/" + (i + 1))
                    .append("\";q=")
                    .append(b.rate())
                    .append(";w=")
                    .append(b.windowSeconds());
        }
        return sb.toString();
    }

    /** The counters now. */
    public RateLimitStats stats() {
        return new RateLimitStats(
                policy.name(),
                allowed.sum(),
                limited.sum(),
                shadowLimited.sum(),
                local.evicted(),
                local.size(),
                storeFailures.sum(),
                storeRejected.sum(),
                storeAvailable.get());
    }

    @Override
    public String toString() {
        return "RateLimiter(" + policy.name() + ", " + policy.key() + ", " + policy.bandwidths()
                + (store != null ? ", " + store : "") + (policy.shadow() ? ", shadow" : "") + ")";
    }

    /** Builds a {@link RateLimiter}. Not thread-safe. */
    public static final class Builder {
        private final RateLimitPolicy policy;
        private RedisStore store;
        private LongSupplier nanoTime = System::nanoTime;

        private Builder(RateLimitPolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
        }

        /** The Redis store of a {@link RateLimitPolicy.Store#REDIS} policy (shared with other limiters). */
        public Builder store(RedisStore store) {
            this.store = Objects.requireNonNull(store, "store");
            return this;
        }

        /** The clock of the local buckets and cache ({@link System#nanoTime()}; a fake one in tests). */
        public Builder nanoTime(LongSupplier nanoTime) {
            this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
            return this;
        }

        /**
         * The limiter.
         *
         * @throws IllegalArgumentException if a Redis policy has no store or a local one has one
         */
        public RateLimiter build() {
            if (policy.store() == RateLimitPolicy.Store.REDIS && store == null) {
                throw new IllegalArgumentException(
                        "policy '" + policy.name() + "' store: redis (expected: a RedisStore, see store())");
            }
            if (policy.store() == RateLimitPolicy.Store.LOCAL && store != null) {
                throw new IllegalArgumentException(
                        "policy '" + policy.name() + "' store: local (expected: no RedisStore, or store: redis)");
            }
            return new RateLimiter(policy, store, nanoTime);
        }
    }
}
