package dev.torii.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.ErrorResponder;
import dev.torii.ProxyError;
import dev.torii.ratelimit.RateLimitDecision.Outcome;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Rate limiters on a fake clock: buckets, bandwidths, the key bound, shadow mode, headers and meters. */
class RateLimiterTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    private RateLimiter limiter(RateLimitPolicy.Builder b) {
        return RateLimiter.builder(b.build()).nanoTime(now::get).build();
    }

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void aKeyGetsItsBurstThenIsRefusedUntilTheBucketRefills() {
        RateLimiter l = limiter(RateLimitPolicy.builder("per-ip").limit(10, Duration.ofSeconds(1), 20));
        for (int i = 0; i < 20; i++) {
            assertThat(l.tryAcquire("a").outcome()).as("request %d", i).isEqualTo(Outcome.ALLOWED);
        }
        RateLimitDecision refused = l.tryAcquire("a");
        assertThat(refused.outcome()).isEqualTo(Outcome.LIMITED);
        assertThat(refused.retryAfterNanos()).isEqualTo(100_000_000L);
        assertThat(refused.retryAfterSeconds()).isEqualTo(1);
        assertThat(l.tryAcquire("b").outcome()).as("another key").isEqualTo(Outcome.ALLOWED);

        advance(Duration.ofMillis(100));
        assertThat(l.tryAcquire("a").outcome()).isEqualTo(Outcome.ALLOWED);
        assertThat(l.tryAcquire("a").outcome()).isEqualTo(Outcome.LIMITED);
        assertThat(l.stats())
                .extracting(RateLimitStats::allowed, RateLimitStats::limited)
                .containsExactly(22L, 2L);
    }

    @Test
    void twoBandwidthsTogetherAllowShortBurstsButNoMoreThanTheLongerLimit() {
        RateLimiter l = limiter(
                RateLimitPolicy.builder("api").limit(10, Duration.ofSeconds(1)).limit(30, Duration.ofMinutes(1)));
        int allowed = 0;
        for (int second = 0; second < 10; second++) {
            for (int i = 0; i < 10; i++) {
                if (l.tryAcquire("k").allowed()) {
                    allowed++;
                }
            }
            advance(Duration.ofSeconds(1));
        }
        // 30 from the minute bucket's burst, plus what it refilled in 10 s (30/min = 1 every 2 s).
        assertThat(allowed).isBetween(30, 35);
        RateLimitDecision d = l.tryAcquire("k");
        for (int i = 0; i < 10 && d.allowed(); i++) {
            d = l.tryAcquire("k"); // what the minute bucket refilled during the last second
        }
        assertThat(d.outcome()).isEqualTo(Outcome.LIMITED);
        assertThat(d.retryAfterNanos()).isGreaterThan(Duration.ofSeconds(1).toNanos());
        assertThat(d.bandwidth()).isEqualTo(Bandwidth.of(30, Duration.ofMinutes(1)));
        assertThat(l.rateLimitPolicyHeader()).isEqualTo("\"api/1\";q=10;w=1, \"api/2\";q=30;w=60");
        assertThat(l.rateLimitHeader(d)).isEqualTo("\"api/2\";r=0;t=" + d.retryAfterSeconds());
    }

    @Test
    void aFloodOfDistinctKeysStaysWithinMaxKeysAndCountsEvictions() {
        RateLimiter l = limiter(RateLimitPolicy.builder("per-key")
                .limit(1, Duration.ofMinutes(1))
                .maxKeys(100));
        for (int i = 0; i < 10_000; i++) {
            assertThat(l.tryAcquire("key-" + i).allowed()).isTrue();
        }
        RateLimitStats s = l.stats();
        assertThat(s.keys()).isLessThanOrEqualTo(100);
        assertThat(s.evicted()).isGreaterThanOrEqualTo(9_900);
        assertThat(s.allowed()).isEqualTo(10_000);
    }

    @Test
    void idleBucketsAreDroppedOnceTheyWouldBeFullAgainAndNotCountedAsEvictions() {
        RateLimiter l = limiter(RateLimitPolicy.builder("p").limit(1, Duration.ofSeconds(1)));
        l.tryAcquire("a");
        assertThat(l.stats().keys()).isEqualTo(1);
        advance(Duration.ofSeconds(3));
        assertThat(l.stats().keys()).isZero();
        assertThat(l.stats().evicted()).isZero();
    }

    @Test
    void aShadowPolicyLetsEverythingThroughAndCountsWhatItWouldHaveRefused() {
        RateLimiter l = limiter(
                RateLimitPolicy.builder("try").limit(2, Duration.ofSeconds(1)).shadow(true));
        List<Outcome> outcomes = java.util.stream.IntStream.range(0, 5)
                .mapToObj(i -> l.tryAcquire("a").outcome())
                .toList();
        assertThat(outcomes)
                .containsExactly(
                        Outcome.ALLOWED,
                        Outcome.ALLOWED,
                        Outcome.SHADOW_LIMITED,
                        Outcome.SHADOW_LIMITED,
                        Outcome.SHADOW_LIMITED);
        assertThat(l.tryAcquire("a").allowed()).isTrue();
        assertThat(l.stats().shadowLimited()).isEqualTo(4);
        assertThat(l.stats().limited()).isZero();
    }

    @Test
    void theRefusalIsTheErrorRespondersRateLimitedWithRetryAfterAndTheIetfFields() {
        RateLimiter l = limiter(RateLimitPolicy.builder("per-ip").limit(100, Duration.ofSeconds(1)));
        for (int i = 0; i < 100; i++) {
            l.tryAcquire("a");
        }
        RateLimitDecision d = l.tryAcquire("a");
        var r = l.limitedResponse(d, ErrorResponder.plainText(), null);
        assertThat(r.status()).isEqualTo(429);
        assertThat(new String(r.body())).isEqualTo("429 RATE_LIMITED\n");
        assertThat(r.headers())
                .contains(
                        java.util.Map.entry("retry-after", "1"),
                        java.util.Map.entry("ratelimit-policy", "\"per-ip\";q=100;w=1"),
                        java.util.Map.entry("ratelimit", "\"per-ip\";r=0;t=1"));
        assertThat(ProxyError.RATE_LIMITED.status()).isEqualTo(429);
    }

    @Test
    void metersCarryThePolicyNameAndTheOutcomeButNeverTheKey() {
        RateLimiter l = limiter(RateLimitPolicy.builder("per-ip")
                .limit(1, Duration.ofSeconds(1))
                .maxKeys(2));
        l.tryAcquire("10.0.0.1");
        l.tryAcquire("10.0.0.1");
        l.tryAcquire("10.0.0.2");
        l.tryAcquire("10.0.0.3");
        var registry = new SimpleMeterRegistry();
        new RateLimitMetrics(List.of(l)).bindTo(registry);
        assertThat(registry.get("torii.ratelimit.requests")
                        .tag("policy", "per-ip")
                        .tag("outcome", "allowed")
                        .functionCounter()
                        .count())
                .isEqualTo(3.0);
        assertThat(registry.get("torii.ratelimit.requests")
                        .tag("outcome", "limited")
                        .functionCounter()
                        .count())
                .isEqualTo(1.0);
        assertThat(registry.get("torii.ratelimit.evictions").functionCounter().count())
                .isEqualTo(1.0);
        assertThat(registry.get("torii.ratelimit.keys").gauge().value()).isEqualTo(2.0);
        assertThat(registry.getMeters())
                .allSatisfy(m -> assertThat(m.getId().getTags().toString()).doesNotContain("10.0.0"));
    }

    @Test
    void theBuildersNameTheWrongValueAndWhatWasExpected() {
        assertThatThrownBy(() -> RateLimitPolicy.builder("p").limit(0, Duration.ofSeconds(1)))
                .hasMessage("rate: 0 (expected: > 0)");
        assertThatThrownBy(() -> RateLimitPolicy.builder("p").limit(1, Duration.ofSeconds(1), -1))
                .hasMessage("burst: -1 (expected: > 0)");
        assertThatThrownBy(() -> RateLimitPolicy.builder("p").limit(1, Duration.ZERO))
                .hasMessage("per: PT0S (expected: >= 1ms)");
        assertThatThrownBy(() -> RateLimitPolicy.builder("p").build())
                .hasMessage("policy 'p' bandwidths: none (expected: at least one, e.g. 100 per 1s)");
        assertThatThrownBy(() -> RateLimitPolicy.builder("p")
                        .limit(1, Duration.ofSeconds(1))
                        .maxKeys(0)
                        .build())
                .hasMessage("maxKeys: 0 (expected: > 0)");
        assertThatThrownBy(() -> RateLimitPolicy.builder("a\"b")
                        .limit(1, Duration.ofSeconds(1))
                        .build())
                .hasMessageStartingWith("name: 'a\"b' (expected:");
        assertThatThrownBy(() -> RateLimitPolicy.builder("p")
                        .limit(1, Duration.ofSeconds(1))
                        .onStoreFailure(RateLimitPolicy.StoreFailure.CLOSED)
                        .build())
                .hasMessage("onStoreFailure: closed (expected: only with store redis; a local store cannot fail)");
        var redis = RateLimitPolicy.builder("r")
                .limit(1, Duration.ofSeconds(1))
                .store(RateLimitPolicy.Store.REDIS)
                .build();
        assertThatThrownBy(() -> RateLimiter.local(redis))
                .hasMessage("policy 'r' store: redis (expected: a RedisStore, see store())");
        assertThatThrownBy(() -> RateLimitKey.parse("ip"))
                .hasMessage("key: 'ip' (expected: clientIp, route, header:NAME or cookie:NAME)");
    }

    @Test
    void keysParseAsWrittenAndCookiesAreFoundAmongOthers() {
        assertThat(RateLimitKey.parse("clientIp")).isSameAs(RateLimitKey.clientIp());
        assertThat(RateLimitKey.parse("header:x-api-key").toString()).isEqualTo("header:x-api-key");
        assertThat(RateLimitKey.parse("cookie:session").toString()).isEqualTo("cookie:session");
        assertThat(RateLimitKey.Spec.cookie("a=1; session=\"abc\"; b=2", "session"))
                .isEqualTo("abc");
        assertThat(RateLimitKey.Spec.cookie("xsession=1; session=2", "session")).isEqualTo("2");
        assertThat(RateLimitKey.Spec.cookie("a=1", "session")).isNull();
        assertThat(RateLimitKey.Spec.cookie(null, "session")).isNull();
    }
}
