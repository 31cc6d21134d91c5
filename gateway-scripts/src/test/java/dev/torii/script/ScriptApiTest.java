package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.upstream.Endpoint;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every function of the JS API, in the phases where it may be called and outside them. */
class ScriptApiTest {
    @TempDir
    Path dir;

    @Test
    void requestFieldsAreReadableAndHeadersPathAndQueryChangeableInRequest() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  const r = ex.request;
                  r.headers.set("x-seen", [ex.phase, r.method, r.path, r.query, r.host, r.protocol, r.uri].join(" "));
                  r.headers.add("x-multi", "b");
                  r.headers.remove("x-drop");
                  r.headers.set("x-all", r.headers.getAll("x-multi").join(","));
                  r.headers.set("x-has", String(r.headers.has("x-multi")) + String(r.headers.has("x-nope")));
                  r.headers.set("x-get-missing", String(r.headers.get("x-nope")));
                  r.setPath("/rewritten");
                  r.setQuery("q=2");
                }
                """)) {
            var ex = t.exchange("POST", "/orig?q=1")
                    .host("api.test")
                    .header("x-multi", "a")
                    .header("x-drop", "1");
            assertThat(t.onRequest(ex).proceeded()).isTrue();
            var h = ex.requestHeaders();
            assertThat(h.get("x-seen")).isEqualTo("request POST /orig q=1 api.test HTTP/1.1 /orig?q=1");
            assertThat(h.get("x-all")).isEqualTo("a,b");
            assertThat(h.get("x-has")).isEqualTo("truefalse");
            assertThat(h.get("x-get-missing")).isEqualTo("null");
            assertThat(h.contains("x-drop")).isFalse();
            assertThat(ex.request().uri()).isEqualTo("/rewritten?q=2");
        }
    }

    @Test
    void respondAnswersWithStatusBodyAndHeaders() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  return ex.respond(418, "short and stout\\n", { "x-pot": "tea", "retry-after": 5 });
                }
                """)) {
            var out = t.onRequest(t.exchange("GET", "/"));
            assertThat(out.status()).isEqualTo(418);
            assertThat(out.body()).isEqualTo("short and stout\n");
            assertThat(out.header("x-pot")).isEqualTo("tea");
            assertThat(out.header("retry-after")).isEqualTo("5");
            assertThat(out.header("content-type")).startsWith("text/plain");
        }
    }

    @Test
    void redirectAnswersWithLocation() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) { return ex.redirect("https://example.com" + ex.request.uri, 301); }
                """)) {
            var out = t.onRequest(t.exchange("GET", "/a?b=1"));
            assertThat(out.status()).isEqualTo(301);
            assertThat(out.header("location")).isEqualTo("https://example.com/a?b=1");
        }
    }

    @Test
    void redirectDefaultsTo302AndRefusesOtherStatuses() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  return ex.request.path === "/bad" ? ex.redirect("/x", 200) : ex.redirect("/x");
                }
                """)) {
            assertThat(t.onRequest(t.exchange("GET", "/")).status()).isEqualTo(302);
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/bad")))
                    .isInstanceOf(ScriptException.class)
                    .hasMessageContaining("ex.redirect status: 200 (expected: 301, 302, 303, 307 or 308)");
        }
    }

    @Test
    void clientAndSecureDescribeTheConnection() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  ex.request.headers.set("x-client", ex.client.ip + " " + ex.client.port + " " + ex.secure);
                }
                """)) {
            var ex = t.exchange("GET", "/").client("10.1.2.3").secure(true);
            t.onRequest(ex);
            assertThat(ex.requestHeaders().get("x-client")).isEqualTo("10.1.2.3 40000 true");
        }
    }

    @Test
    void useUpstreamAndUseEndpointWorkInUpstreamOnly() {
        try (var t = ScriptTester.builder(TestPlugins.write(dir, "test", """
                        export function onRequest(ex) { if (ex.request.path === "/early") ex.useUpstream("blue"); }
                        export function onUpstream(ex) {
                          if (ex.request.path === "/endpoint") ex.useEndpoint("db.internal:8080");
                          else ex.useUpstream("blue");
                          ex.request.headers.set("x-route", ex.route + " " + ex.upstream);
                        }
                        """, null))
                .upstreams("green", "blue")
                .build()) {
            var ex = t.exchange("GET", "/");
            t.onRequest(ex);
            t.onUpstream(ex);
            assertThat(ex.upstream()).isEqualTo("blue");
            assertThat(ex.requestHeaders().get("x-route")).isEqualTo("test blue");

            var ex2 = t.exchange("GET", "/endpoint");
            t.onUpstream(ex2);
            assertThat(ex2.endpoint()).isEqualTo(new Endpoint("db.internal", 8080));

            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/early")))
                    .isInstanceOf(ScriptException.class)
                    .hasMessageContaining("ex.useUpstream() may be called in phase UPSTREAM (now: REQUEST)")
                    .hasMessageContaining("plugin.js:1:");
        }
    }

    @Test
    void responseStatusAndHeadersAreChangeableInResponseOnly() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) { if (ex.request.path === "/early") ex.response.status = 201; }
                export function onResponse(ex) {
                  ex.response.headers.set("x-was", String(ex.response.status));
                  ex.response.headers.remove("server");
                  ex.response.status = 203;
                  if (ex.request.path === "/late") ex.request.headers.set("x-too-late", "1");
                }
                """)) {
            var ex = t.exchange("GET", "/").response(200).responseHeader("server", "nginx");
            t.onResponse(ex);
            assertThat(ex.responseStatus()).isEqualTo(203);
            assertThat(ex.responseHeaders().get("x-was")).isEqualTo("200");
            assertThat(ex.responseHeaders().contains("server")).isFalse();

            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/early")))
                    .hasMessageContaining("ex.response may be called in phases RESPONSE, LOG (now: REQUEST)");
            assertThatThrownBy(() -> t.onResponse(t.exchange("GET", "/late")))
                    .hasMessageContaining(
                            "ex.request.headers.set() may be called in phases REQUEST, UPSTREAM (now: RESPONSE)");
        }
    }

    @Test
    void respondInResponseReplacesTheResponse() {
        try (var t = TestPlugins.tester(dir, """
                export function onResponse(ex) {
                  if (ex.response.status >= 500) return ex.respond(503, "sorry\\n");
                }
                """)) {
            assertThat(t.onResponse(t.exchange("GET", "/").response(502)).status())
                    .isEqualTo(503);
            assertThat(t.onResponse(t.exchange("GET", "/").response(200)).proceeded())
                    .isTrue();
        }
    }

    @Test
    void varsAreSharedBetweenThePhasesOfOneExchangeOnly() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) { ex.vars.user = ex.request.headers.get("x-user"); ex.vars.n = { a: 1 }; }
                export function onResponse(ex) {
                  ex.response.headers.set("x-user", String(ex.vars.user) + " " + ex.vars.n?.a);
                }
                """)) {
            var a = t.exchange("GET", "/").header("x-user", "ann");
            var b = t.exchange("GET", "/");
            t.onRequest(a);
            t.onResponse(a);
            t.onResponse(b);
            assertThat(a.responseHeaders().get("x-user")).isEqualTo("ann 1");
            assertThat(b.responseHeaders().get("x-user")).isEqualTo("undefined undefined");
        }
    }

    @Test
    void logPhaseReadsTheExchangeLogAndCannotRespond() {
        try (var t = TestPlugins.tester(dir, """
                export function onLog(ex) {
                  torii.log(ex.log.status, ex.log.method, ex.log.uri, ex.response.status);
                  if (ex.request.path === "/respond") ex.respond(200, "no");
                }
                """)) {
            t.onLog(t.exchange("GET", "/x").response(404));
            assertThat(t.logs()).containsExactly("info test: 404 GET /x 404");
            assertThatThrownBy(() -> t.onLog(t.exchange("GET", "/respond")))
                    .hasMessageContaining(
                            "ex.respond() may be called in phases REQUEST, UPSTREAM, RESPONSE (now: LOG)");
        }
    }

    @Test
    void limitRefusesPastTheBurstAndRefillsWithTime() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  if (!ex.limit(ex.client.ip, { rate: 1, per: "1s", burst: 2 })) return ex.respond(429, "no\\n");
                }
                """)) {
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.1")).proceeded())
                    .isTrue();
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.1")).proceeded())
                    .isTrue();
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.1")).status())
                    .isEqualTo(429);
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.2")).proceeded())
                    .isTrue();
            t.advance(Duration.ofSeconds(1));
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.1")).proceeded())
                    .isTrue();
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.1")).status())
                    .isEqualTo(429);
        }
    }

    @Test
    void limitWithAPolicyNameUsesTheGatewaysNamedPolicyAndItsCounters() {
        var perIp = dev.torii.ratelimit.RateLimitPolicy.builder("per-ip")
                .limit(1, Duration.ofHours(1), 2)
                .build();
        var redis = dev.torii.ratelimit.RateLimitPolicy.builder("cluster")
                .limit(1, Duration.ofHours(1))
                .store(dev.torii.ratelimit.RateLimitPolicy.Store.REDIS)
                .build();
        try (var limits = dev.torii.ratelimit.RateLimits.of(
                        List.of(perIp, redis),
                        dev.torii.ratelimit.RedisStore.builder()
                                .address("127.0.0.1:1")
                                .build());
                var t = ScriptTester.builder(TestPlugins.write(dir, "named", """
                                export function onRequest(ex) {
                                  if (ex.request.path === "/redis") ex.limit("k", "cluster");
                                  if (ex.request.path === "/none") ex.limit("k", "nope");
                                  if (!ex.limit(ex.client.ip, "per-ip")) return ex.respond(429, "no\\n");
                                }
                                """, null))
                        .rateLimits(limits)
                        .build()) {
            List<Integer> statuses = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                var o = t.onRequest(t.exchange("GET", "/").client("10.0.0.1"));
                statuses.add(o.proceeded() ? 200 : o.status());
            }
            assertThat(statuses).containsExactly(200, 200, 429);
            assertThat(t.onRequest(t.exchange("GET", "/").client("10.0.0.2")).proceeded())
                    .isTrue();
            assertThat(limits.get("per-ip").stats().allowed()).isEqualTo(3);
            assertThat(limits.get("per-ip").stats().limited()).isEqualTo(1);
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/none")))
                    .hasMessageContaining("ex.limit policy: 'nope' (expected: one of [cluster, per-ip])");
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/redis")))
                    .hasMessageContaining("ex.limit policy: 'cluster' keeps its buckets in Redis");
        }
    }

    @Test
    void limitRejectsBadOptionsAndResponsePhase() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) { ex.limit("k", { rate: 0 }); }
                export function onResponse(ex) { ex.limit("k", { rate: 1 }); }
                """)) {
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/")))
                    .hasMessageContaining("ex.limit rate: 0 (expected: an integer >= 1)");
            assertThatThrownBy(() -> t.onResponse(t.exchange("GET", "/")))
                    .hasMessageContaining("ex.limit() may be called in phases REQUEST, UPSTREAM (now: RESPONSE)");
        }
    }

    @Test
    void sharedDictionariesSetAddIncrDeleteWithTtl() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  const d = torii.shared("counters");
                  const op = ex.request.path;
                  if (op === "/set") d.set("k", "v", { ttl: "10s" });
                  if (op === "/add") ex.request.headers.set("x-r", String(d.add("k", "other")));
                  if (op === "/incr") ex.request.headers.set("x-r", String(d.incr("n", 2, { ttl: "5s" })));
                  if (op === "/get") ex.request.headers.set("x-r", String(d.get("k")) + " " + String(d.get("n")));
                  if (op === "/delete") ex.request.headers.set("x-r", String(d.delete("k")));
                  if (op === "/object") d.set("o", { a: 1 });
                }
                """)) {
            java.util.function.Function<String, String> run = op -> {
                var ex = t.exchange("GET", op);
                t.onRequest(ex);
                return ex.requestHeaders().get("x-r");
            };
            run.apply("/set");
            assertThat(run.apply("/add")).isEqualTo("false");
            assertThat(run.apply("/incr")).isEqualTo("2");
            assertThat(run.apply("/incr")).isEqualTo("4");
            assertThat(run.apply("/get")).isEqualTo("v 4");
            assertThat(t.shared("counters").get("n")).isEqualTo(4.0);
            t.advance(Duration.ofSeconds(6));
            assertThat(run.apply("/get")).isEqualTo("v null");
            t.advance(Duration.ofSeconds(5));
            assertThat(run.apply("/get")).isEqualTo("null null");
            run.apply("/set");
            assertThat(run.apply("/delete")).isEqualTo("true");
            assertThat(run.apply("/delete")).isEqualTo("false");
            assertThatThrownBy(() -> run.apply("/object"))
                    .hasMessageContaining("(expected: a string, number or boolean; use JSON.stringify for objects)");
        }
    }

    @Test
    void sharedIsNotAvailableWhileTheModuleIsEvaluated(@TempDir Path other) {
        assertThatThrownBy(() -> TestPlugins.tester(other, """
                        torii.shared("x").set("a", 1);
                        export function onRequest(ex) {}
                        """))
                .isInstanceOf(PluginException.class)
                .hasMessageContaining(
                        "torii.shared() may be called in phases CONNECT, REQUEST, UPSTREAM, RESPONSE, LOG (now: INIT");
    }

    @Test
    void loggingGoesToThePluginsLogger() {
        try (var t = TestPlugins.tester(dir, """
                torii.log("loaded");
                export function onRequest(ex) {
                  console.log("a", 1, { b: true });
                  console.warn("careful");
                  torii.log.error("bad", [1, 2]);
                  torii.log.debug("detail");
                }
                """)) {
            t.onRequest(t.exchange("GET", "/"));
            assertThat(t.logs())
                    .contains(
                            "info test: a 1 {\"b\":true}",
                            "warn test: careful",
                            "error test: bad [1,2]",
                            "debug test: detail");
        }
    }

    @Test
    void nowFollowsTheClock() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) { ex.request.headers.set("x-now", String(torii.now())); }
                """)) {
            var a = t.exchange("GET", "/");
            t.onRequest(a);
            t.advance(Duration.ofMillis(1500));
            var b = t.exchange("GET", "/");
            t.onRequest(b);
            long first = Long.parseLong(a.requestHeaders().get("x-now"));
            assertThat(first)
                    .isEqualTo(java.time.Instant.parse("2030-01-01T00:00:00Z").toEpochMilli());
            assertThat(Long.parseLong(b.requestHeaders().get("x-now")) - first).isEqualTo(1500);
        }
    }

    @Test
    void cryptoAndBase64HelpersCheckASignedCookie() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  const h = ex.request.headers;
                  h.set("x-sha", torii.sha256("abc"));
                  h.set("x-hmac", torii.hmacSha256("key", "The quick brown fox jumps over the lazy dog"));
                  h.set("x-hmac64", torii.hmacSha256("key", "msg", "base64url"));
                  h.set("x-b64", torii.base64.encode("héllo"));
                  h.set("x-b64url", torii.base64.encode("??>", true));
                  h.set("x-unb64", torii.base64.decode("aMOpbGxv"));
                  const [value, sig] = (h.get("cookie") ?? "").split(".");
                  h.set("x-valid", String(torii.timingSafeEqual(torii.hmacSha256("k", value, "base64url"), sig ?? "")));
                  h.set("x-json", JSON.stringify(JSON.parse('{"a":[1,2]}')));
                }
                """)) {
            String sig = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(hmac("k", "user=ann"));
            var ex = t.exchange("GET", "/").header("cookie", "user=ann." + sig);
            t.onRequest(ex);
            var h = ex.requestHeaders();
            assertThat(h.get("x-sha")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
            assertThat(h.get("x-hmac")).isEqualTo("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
            assertThat(h.get("x-hmac64"))
                    .isEqualTo(java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(hmac("key", "msg")));
            assertThat(h.get("x-b64")).isEqualTo("aMOpbGxv");
            assertThat(h.get("x-b64url")).isEqualTo("Pz8-");
            assertThat(h.get("x-unb64")).isEqualTo("héllo");
            assertThat(h.get("x-valid")).isEqualTo("true");
            assertThat(h.get("x-json")).isEqualTo("{\"a\":[1,2]}");
        }
    }

    private static byte[] hmac(String key, String text) {
        try {
            var mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new javax.crypto.spec.SecretKeySpec(key.getBytes(), "HmacSHA256"));
            return mac.doFinal(text.getBytes());
        } catch (java.security.GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void configArrivesFrozenWithDefaults(@TempDir Path other) {
        Path p = TestPlugins.write(other, "cfg", """
                export function onRequest(ex, cfg) {
                  ex.request.headers.set("x-cfg", JSON.stringify(cfg) + " " + Object.isFrozen(cfg.list));
                }
                """, """
                { "type": "object", "properties": {
                    "rate": { "type": "integer", "default": 5 },
                    "name": { "type": "string" },
                    "list": { "type": "array", "default": ["a"] } } }
                """);
        try (var t = ScriptTester.of(p, Map.of("name", "x"))) {
            var ex = t.exchange("GET", "/");
            t.onRequest(ex);
            assertThat(ex.requestHeaders().get("x-cfg")).isEqualTo("{\"name\":\"x\",\"rate\":5,\"list\":[\"a\"]} true");
        }
    }

    @Test
    void exKeptAfterItsCallCannotBeUsedLater() {
        try (var t = TestPlugins.tester(dir, """
                let kept;
                export function onRequest(ex) {
                  if (kept) kept.request.headers.set("x-leak", "1");
                  kept = ex;
                }
                """)) {
            t.onRequest(t.exchange("GET", "/"));
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/")))
                    .hasMessageContaining("belongs to a onRequest call that has returned");
        }
    }

    @Test
    void returningAnythingButNothingOrAReplyFails() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) { return ex.request.path === "/n" ? 42 : Promise.resolve(1); }
                """)) {
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/n")))
                    .isInstanceOf(ScriptException.class)
                    .hasMessageContaining("returned 42 (expected: nothing to go on, or the value of ex.respond()");
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/p")))
                    .hasMessageContaining("returned 1 (expected: nothing to go on"); // an async result is judged too
        }
    }

    @Test
    void aThrowingFunctionFailsWithFileLineAndColumn() {
        try (var t = TestPlugins.tester(dir, """
                export function onRequest(ex) {
                  const x = null;
                  return x.boom;
                }
                """)) {
            assertThatThrownBy(() -> t.onRequest(t.exchange("GET", "/")))
                    .isInstanceOfSatisfying(ScriptException.class, e -> {
                        assertThat(e.kind()).isEqualTo(ScriptException.Kind.THREW);
                        assertThat(e.location()).endsWith("test/plugin.js:3:10");
                        assertThat(e.getMessage())
                                .startsWith("plugin test: onRequest threw at ")
                                .contains("TypeError");
                    });
            assertThat(t.runtime().stats().failures()).isEqualTo(1);
        }
    }
}
