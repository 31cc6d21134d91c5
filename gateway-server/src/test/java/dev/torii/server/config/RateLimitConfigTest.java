package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.ratelimit.Bandwidth;
import dev.torii.ratelimit.RateLimitPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The rate-limit sections of torii.yaml: rateLimits, redis, the top-level rateLimit and routes' rateLimit. */
class RateLimitConfigTest {
    private static final String BASE = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:8080" }
            upstreams: { app: { endpoints: [ "127.0.0.1:9001" ] } }
            """;

    @Test
    void namedInlineGlobalAndRedisPoliciesAreRead() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", BASE + """
                redis: { address: "127.0.0.1:6379", database: 2 }
                rateLimits:
                  per-ip: { key: clientIp, rate: 100, per: 1s, burst: 200 }
                  api: { key: "header:x-api-key", limits: [ { rate: 10, per: 1s }, { rate: 300, per: 1m } ] }
                  cluster: { rate: 1000, per: 1m, store: redis, onStoreFailure: closed, storeTimeout: 20ms }
                  try: { key: "cookie:session", rate: 5, shadow: true, maxKeys: 1000 }
                rateLimit: per-ip
                routes:
                  - { name: api, match: { pathPrefix: /api }, upstream: app, rateLimit: [ api, cluster ] }
                  - { name: shop, upstream: app, rateLimit: { key: route, rate: 50, per: 10s } }
                """);
        RateLimitSettings r = c.rateLimits();
        assertThat(r.global()).containsExactly("per-ip");
        assertThat(r.routes()).isEqualTo(Map.of("api", List.of("api", "cluster"), "shop", List.of("shop")));
        assertThat(r.policies().get("per-ip").bandwidths())
                .containsExactly(new Bandwidth(100, Duration.ofSeconds(1), 200));
        assertThat(r.policies().get("api").bandwidths())
                .containsExactly(Bandwidth.of(10, Duration.ofSeconds(1)), Bandwidth.of(300, Duration.ofMinutes(1)));
        assertThat(r.policies().get("api").key()).hasToString("header:x-api-key");
        RateLimitPolicy cluster = r.policies().get("cluster");
        assertThat(cluster.store()).isEqualTo(RateLimitPolicy.Store.REDIS);
        assertThat(cluster.onStoreFailure()).isEqualTo(RateLimitPolicy.StoreFailure.CLOSED);
        assertThat(cluster.storeTimeout()).isEqualTo(Duration.ofMillis(20));
        assertThat(r.policies().get("try").shadow()).isTrue();
        assertThat(r.policies().get("try").maxKeys()).isEqualTo(1000);
        assertThat(r.policies().get("shop").key()).hasToString("route");
        assertThat(r.redis().orElseThrow().database()).isEqualTo(2);
        assertThat(c.routingTable().routes())
                .allSatisfy(route -> assertThat(route.hooks()).isEmpty());
    }

    @Test
    void withoutAnySectionThereAreNoLimits() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", BASE);
        assertThat(c.rateLimits().inUse()).isFalse();
    }

    @Test
    void mistakesAreReportedAtTheirLineAndColumn() {
        assertThat(errors(BASE + """
                rateLimits:
                  zero: { rate: 0 }
                  badkey: { key: ip, rate: 1 }
                  both: { rate: 1, limits: [ { rate: 2 } ] }
                  odd: { rate: 1, colour: red }
                  cluster: { rate: 1, store: redis }
                  local: { rate: 1, onStoreFailure: closed }
                  by-route: { key: route, rate: 1 }
                rateLimit: [ per-ipp, by-route ]
                routes:
                  - { upstream: app, rateLimit: nope }
                  - { upstream: app, rateLimit: { per: 1s } }
                """))
                .containsExactly(
                        "torii.yaml:5:17: rateLimits.zero.rate: 0 (expected: > 0)",
                        "torii.yaml:6:18: rateLimits.badkey.key: 'ip' (expected: clientIp, route, header:NAME or"
                                + " cookie:NAME)",
                        "torii.yaml:7:28: rateLimits.both.limits: set with rate (expected: either rate/per/burst for"
                                + " one bandwidth, or limits for several)",
                        "torii.yaml:8:19: rateLimits.odd: unknown key 'colour' (expected one of: key, rate, per, burst,"
                                + " limits, shadow, store, onStoreFailure, storeTimeout, maxKeys)",
                        "torii.yaml:9:30: rateLimits.cluster.store: redis needs the redis section (expected: redis: {"
                                + " address: \"127.0.0.1:6379\" } at the top level)",
                        "torii.yaml:10:37: rateLimits.local.onStoreFailure: closed (expected: only with store: redis)",
                        "torii.yaml:12:14: rateLimit[0]: no policy 'per-ipp' in rateLimits (expected one of: odd, cluster,"
                                + " by-route)",
                        "torii.yaml:12:23: rateLimit[1]: policy 'by-route' is keyed by route (expected: on a route;"
                                + " the top-level rateLimit runs before routing)",
                        "torii.yaml:14:33: routes[0].rateLimit: no policy 'nope' in rateLimits (expected one of: odd,"
                                + " cluster, by-route)",
                        "torii.yaml:15:33: routes[1].rateLimit: missing key 'rate' (expected: requests per 'per', e.g."
                                + " { key: clientIp, rate: 100, per: 1s, burst: 200 })");
    }

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }
}
