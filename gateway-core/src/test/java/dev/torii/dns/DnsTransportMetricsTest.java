package dev.torii.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.torii.metrics.DnsCacheMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Message;

/** The DNS cache's upstream transport counters as meters: truncated UDP answers and dropped (unmatched) answers. */
class DnsTransportMetricsTest {
    @Test
    void aTruncatedUdpAnswerIsCountedAndAskedAgainOverTcp() throws Exception {
        var registry = new SimpleMeterRegistry();
        try (FakeDnsServer server = new FakeDnsServer();
                DnsCache cache = DnsCache.builder()
                        .upstreams(List.of(server.address()))
                        .queryTimeout(Duration.ofSeconds(2))
                        .build()) {
            new DnsCacheMetrics(cache).bindTo(registry);
            server.a("big.test", 60, "10.0.0.1").aaaa("big.test", 60, "::1");
            server.truncateUdp = true;
            assertThat(cache.resolve("big.test").get(10, TimeUnit.SECONDS)).isNotEmpty();
            assertThat(registry.get("torii.dns.cache.upstream.truncated")
                            .functionCounter()
                            .count())
                    .isEqualTo(2); // A and AAAA
            assertThat(registry.get("torii.dns.cache.upstream.dropped")
                            .functionCounter()
                            .count())
                    .isZero();
        }
    }

    @Test
    void anAnswerWithAnotherIdIsDroppedAndCounted() throws Exception {
        var registry = new SimpleMeterRegistry();
        try (FakeDnsServer server = new FakeDnsServer();
                DnsCache cache = DnsCache.builder()
                        .upstreams(List.of(server.address()))
                        .queryTimeout(Duration.ofMillis(300))
                        .attempts(1)
                        .build()) {
            new DnsCacheMetrics(cache).bindTo(registry);
            server.responder = q -> {
                Message r = server.answer(q);
                r.getHeader().setID((q.getHeader().getID() + 1) & 0xffff); // matches no query in flight
                return r;
            };
            Throwable failed =
                    catchThrowable(() -> cache.resolve("spoofed.test").get(10, TimeUnit.SECONDS));
            assertThat(failed).isNotNull();
            assertThat(registry.get("torii.dns.cache.upstream.dropped")
                            .functionCounter()
                            .count())
                    .isGreaterThanOrEqualTo(1);
        }
    }
}
