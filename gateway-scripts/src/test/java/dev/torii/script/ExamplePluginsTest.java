package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.upstream.Endpoint;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The plugins shipped in examples/plugins, run through ScriptTester the way their authors would test them. */
class ExamplePluginsTest {
    @Test
    void dosGuardRefusesAClientPastItsBurstUntilTheBucketRefills() {
        try (var t = ScriptTester.of(
                TestPlugins.example("dos-guard"),
                Map.of("rate", 1, "burst", 3, "allow", List.of("10.9.9.9"), "blockHeader", "x-block"))) {
            for (int i = 0; i < 3; i++) {
                var ex = t.exchange("GET", "/").client("10.0.0.1");
                assertThat(t.onRequest(ex).proceeded()).isTrue();
                assertThat(ex.requestHeaders().get("x-client-ip")).isEqualTo("10.0.0.1");
            }
            var refused = t.onRequest(t.exchange("GET", "/").client("10.0.0.1"));
            assertThat(refused.status()).isEqualTo(429);
            assertThat(refused.header("retry-after")).isEqualTo("1");
            assertThat(t.shared("dos-guard").get("refused:10.0.0.1")).isEqualTo(1.0);

            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.2")).proceeded())
                    .isTrue();
            for (int i = 0; i < 10; i++) {
                assertThat(t.onRequest(t.exchange("GET", "/").client("10.9.9.9"))
                                .proceeded())
                        .isTrue();
            }
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.3").header("x-block", "1"))
                            .status())
                    .isEqualTo(403);

            t.advance(Duration.ofSeconds(1));
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.1")).proceeded())
                    .isTrue();

            var ex = t.exchange("GET", "/");
            t.onResponse(ex);
            assertThat(ex.responseHeaders().get("x-served-by")).isEqualTo("torii");
        }
    }

    @Test
    void maintenanceAnswersWithItsPageWhileTheSwitchIsOnAndLetsOperatorsAndHealthChecksThrough() {
        try (var t = ScriptTester.of(TestPlugins.example("maintenance"), Map.of("token", "s3cret", "retryAfter", 60))) {
            assertThat(t.onRequest(t.exchange("POST", "/shop")).proceeded()).isTrue();

            t.maintenance().enable();
            var page = t.onRequest(t.exchange("POST", "/shop"));
            assertThat(page.status()).isEqualTo(503);
            assertThat(page.header("retry-after")).isEqualTo("60");
            assertThat(page.header("content-type")).isEqualTo("text/html; charset=utf-8");
            assertThat(page.body()).contains("Down for maintenance");
            assertThat(t.onRequest(t.exchange("GET", "/shop")).status())
                    .as("not read-only")
                    .isEqualTo(503);
            assertThat(t.onRequest(t.exchange("GET", "/healthz")).proceeded()).isTrue();
            var operator = t.exchange("POST", "/shop").header("x-maintenance-token", "s3cret");
            assertThat(t.onRequest(operator).proceeded()).isTrue();
            t.onResponse(operator);
            assertThat(operator.responseHeaders().get("x-maintenance")).isEqualTo("on");
            assertThat(t.onRequest(t.exchange("POST", "/shop").header("x-maintenance-token", "guess"))
                            .status())
                    .isEqualTo(503);

            t.maintenance().disable();
            var after = t.exchange("POST", "/shop");
            assertThat(t.onRequest(after).proceeded()).isTrue();
            t.onResponse(after);
            assertThat(after.responseHeaders().get("x-maintenance")).isNull();
        }
    }

    @Test
    void maintenanceCanLetReadsThrough() {
        try (var t = ScriptTester.of(TestPlugins.example("maintenance"), Map.of("readOnly", true))) {
            t.maintenance().enable();
            assertThat(t.onRequest(t.exchange("GET", "/")).proceeded()).isTrue();
            assertThat(t.onRequest(t.exchange("DELETE", "/")).status()).isEqualTo(503);
        }
    }

    @Test
    void upstreamChooserHonoursOverrideTenantAndCanary() {
        try (var t = ScriptTester.builder(TestPlugins.example("upstream-chooser"))
                .config(Map.of(
                        "upstreams",
                        List.of("blue", "green"),
                        "allowOverride",
                        true,
                        "tenantEndpoint",
                        "{tenant}.tenants.svc.cluster.local:8080",
                        "canary",
                        "green",
                        "canaryPercent",
                        50))
                .upstreams("blue", "green")
                .build()) {
            var forced = t.exchange("GET", "/").header("x-upstream", "green").route("r", "blue");
            t.onUpstream(forced);
            t.onResponse(forced);
            assertThat(forced.upstream()).isEqualTo("green");
            assertThat(forced.responseHeaders().get("x-upstream")).isEqualTo("green");

            var tenant = t.exchange("GET", "/").host("acme.example.com").route("r", "blue");
            t.onUpstream(tenant);
            assertThat(tenant.endpoint()).isEqualTo(new Endpoint("acme.tenants.svc.cluster.local", 8080));

            var bad = t.exchange("GET", "/").host("a_b.example.com").route("r", "blue");
            t.onUpstream(bad);
            assertThat(bad.endpoint()).isNull();

            // The canary share is a stable function of the user: about half of 200 users, each always the same.
            int canary = 0;
            for (int i = 0; i < 200; i++) {
                var a = t.exchange("GET", "/").header("x-user", "user" + i).route("r", "blue");
                var b = t.exchange("GET", "/").header("x-user", "user" + i).route("r", "blue");
                t.onUpstream(a);
                t.onUpstream(b);
                assertThat(a.upstream()).isEqualTo(b.upstream());
                canary += "green".equals(a.upstream()) ? 1 : 0;
            }
            assertThat(canary).isBetween(60, 140);
        }
    }

    @Test
    void upstreamChooserWithoutConfigLeavesTheRouteAlone() {
        try (var t = ScriptTester.of(TestPlugins.example("upstream-chooser"), Map.of())) {
            var ex = t.exchange("GET", "/").header("x-upstream", "green").route("r", "app");
            t.onUpstream(ex);
            t.onResponse(ex);
            assertThat(ex.upstream()).isEqualTo("app");
            assertThat(ex.endpoint()).isNull();
            assertThat(ex.responseHeaders().get("x-upstream")).isEqualTo("app");
        }
    }
}
