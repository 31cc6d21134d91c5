package dev.torii.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.AttributeKey;
import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.Forwarding;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.LocalResponse;
import dev.torii.ProxyError;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.Upstream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The client side of the engine, in memory: everything decided before an upstream is involved. */
class ProxyHandlerTest {
    private static final RoutingTable TABLE = RoutingTable.builder()
            .upstream(Upstream.builder("app").endpoint("127.0.0.1:9").build())
            .route(Route.builder("api").host("api.test").upstream("app").build())
            .build();

    private static EmbeddedChannel channel(Limits limits, ErrorResponder responder, Hook... hooks) {
        Engine engine = new Engine(
                List.of(Listener.http("web", "127.0.0.1:0")),
                TABLE,
                List.of(hooks),
                limits,
                dev.torii.Http2Limits.defaults(),
                Forwarding.defaults(),
                responder,
                1,
                null);
        EmbeddedChannel ch = new EmbeddedChannel(false, false);
        ch.config().setOption(ChannelOption.AUTO_READ, false);
        engine.initHttp1(ch, engine.decoderConfig());
        try {
            ch.register();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        return ch;
    }

    private static EmbeddedChannel channel(Hook... hooks) {
        return channel(Limits.defaults(), ErrorResponder.plainText(), hooks);
    }

    private static void send(EmbeddedChannel ch, String raw) {
        ch.writeInbound(Unpooled.copiedBuffer(raw, StandardCharsets.ISO_8859_1));
        ch.runPendingTasks();
    }

    private static String output(EmbeddedChannel ch) {
        var sb = new StringBuilder();
        Object o;
        while ((o = ch.readOutbound()) != null) {
            ByteBuf b = (ByteBuf) o;
            sb.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return sb.toString();
    }

    @Test
    void noRouteAnswers404AndKeepsTheConnectionForTheNextRequest() {
        EmbeddedChannel ch = channel();
        send(ch, "GET /a HTTP/1.1\r\nHost: other.test\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 404 Not Found").endsWith("404 NO_ROUTE\n");
        assertThat(ch.isActive()).isTrue();
        send(ch, "GET /b HTTP/1.1\r\nHost: other.test\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 404 Not Found");
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void aRequestLineOverTheLimitGets414AndTheConnectionCloses() {
        EmbeddedChannel ch = channel(Limits.builder().maxRequestLineLength(64).build(), ErrorResponder.plainText());
        send(ch, "GET /" + "a".repeat(100) + " HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 414 ").contains("connection: close");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void headersOverTheLimitGet431() {
        EmbeddedChannel ch = channel(Limits.builder().maxHeaderSize(256).build(), ErrorResponder.plainText());
        send(ch, "GET / HTTP/1.1\r\nHost: api.test\r\nX-Big: " + "b".repeat(400) + "\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 431 ");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void contentLengthWithTransferEncodingIsRejectedWith400() {
        EmbeddedChannel ch = channel();
        send(
                ch,
                "POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "0\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 400 ").endsWith("400 BAD_REQUEST\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aDeclaredBodyOverTheLimitGets413BeforeAnyUpstreamIsContacted() {
        EmbeddedChannel ch = channel(Limits.builder().maxRequestBodySize(10).build(), ErrorResponder.plainText());
        send(ch, "POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 11\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 413 ").contains("connection: close");
    }

    @Test
    void partialHeadersPastTheHeaderReadTimeoutGet408() {
        EmbeddedChannel ch = channel(
                Limits.builder().headerReadTimeout(Duration.ofSeconds(5)).build(), ErrorResponder.plainText());
        send(ch, "GET / HTTP/1.1\r\nHost: api");
        ch.advanceTimeBy(4, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output(ch)).isEmpty();
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output(ch)).startsWith("HTTP/1.1 408 ");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void anIdleKeepAliveConnectionClosesSilentlyAfterTheIdleTimeout() {
        EmbeddedChannel ch = channel(
                Limits.builder()
                        .headerReadTimeout(Duration.ofSeconds(5))
                        .idleTimeout(Duration.ofSeconds(30))
                        .build(),
                ErrorResponder.plainText());
        send(ch, "GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 404 ");
        ch.advanceTimeBy(20, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isActive()).as("idle for 20 s of 30").isTrue();
        ch.advanceTimeBy(11, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output(ch)).isEmpty();
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aRequestHookCanShortCircuitAndResponseHooksStillSeeTheResponse() {
        Hook guard = new Hook() {
            @Override
            public HookResult onRequest(Exchange ex) {
                if ("1".equals(ex.request().headers().get("x-block"))) {
                    return HookResult.respond(403, "blocked\n");
                }
                return HookResult.proceed();
            }

            @Override
            public HookResult onResponse(Exchange ex) {
                ex.response().headers().set("x-served-by", "torii");
                return HookResult.proceed();
            }
        };
        EmbeddedChannel ch = channel(guard);
        send(ch, "GET / HTTP/1.1\r\nHost: api.test\r\nX-Block: 1\r\n\r\n");
        String out = output(ch);
        assertThat(out)
                .startsWith("HTTP/1.1 403 Forbidden")
                .contains("x-served-by: torii")
                .endsWith("blocked\n");
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void aHookThatThrowsFailsOnlyThatExchangeWith500() {
        Hook broken = new Hook() {
            @Override
            public HookResult onRequest(Exchange ex) {
                if (ex.request().path().equals("/boom")) {
                    throw new IllegalStateException("boom");
                }
                return HookResult.respond(200, "fine\n");
            }
        };
        EmbeddedChannel ch = channel(broken);
        send(ch, "GET /boom HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 500 ").endsWith("500 HOOK_FAILED\n");
        send(ch, "GET /ok HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 200 ").endsWith("fine\n");
    }

    @Test
    void anAsynchronousHookResumesTheExchangeWhenItsStageCompletes() {
        var decision = new CompletableFuture<HookResult>();
        Hook async = new Hook() {
            @Override
            public HookResult onRequest(Exchange ex) {
                return HookResult.later(decision);
            }
        };
        EmbeddedChannel ch = channel(async);
        send(ch, "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(output(ch)).isEmpty();
        decision.complete(HookResult.respond(LocalResponse.text(429, "slow down\n")));
        ch.runPendingTasks();
        assertThat(output(ch)).startsWith("HTTP/1.1 429 ").endsWith("slow down\n");
    }

    @Test
    void phaseRulesAreEnforcedWithAMessageNamingTheAllowedPhases() {
        var messages = new ArrayList<String>();
        AttributeKey<String> seen = AttributeKey.of("seen", String.class);
        Hook probe = new Hook() {
            @Override
            public HookResult onRequest(Exchange ex) {
                ex.set(seen, "request");
                try {
                    ex.response();
                } catch (IllegalStateException e) {
                    messages.add(e.getMessage());
                }
                return HookResult.respond(200, "ok\n");
            }

            @Override
            public HookResult onResponse(Exchange ex) {
                try {
                    ex.request().setPath("/late");
                } catch (IllegalStateException e) {
                    messages.add(e.getMessage());
                }
                messages.add("attribute " + ex.get(seen));
                return HookResult.proceed();
            }
        };
        EmbeddedChannel ch = channel(probe);
        send(ch, "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(output(ch)).startsWith("HTTP/1.1 200 ");
        assertThat(messages)
                .containsExactly(
                        "response() may be called in phases RESPONSE, LOG (now: REQUEST)",
                        "request.setPath() may be called in phases REQUEST, UPSTREAM (now: RESPONSE)",
                        "attribute request");
    }

    @Test
    void aReplacedErrorResponderRendersEveryError() {
        ErrorResponder json = (error, ex) -> new LocalResponse(
                error.status(),
                List.of(java.util.Map.entry("content-type", "application/json")),
                ("{\"error\":\"" + error.name() + "\"}").getBytes(StandardCharsets.UTF_8));
        EmbeddedChannel ch = channel(Limits.defaults(), json);
        send(ch, "GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n");
        assertThat(output(ch)).contains("content-type: application/json").endsWith("{\"error\":\"NO_ROUTE\"}");
    }

    @Test
    void everyLogHookSeesTheFinishedRecord() {
        var records = new ArrayList<String>();
        Hook logger = new Hook() {
            @Override
            public void onLog(Exchange ex) {
                records.add(ex.log().status() + " " + ex.log().error() + " "
                        + ex.log().uri());
            }
        };
        EmbeddedChannel ch = channel(logger);
        send(ch, "GET /x?y=1 HTTP/1.1\r\nHost: nowhere\r\n\r\n");
        output(ch);
        assertThat(records).containsExactly("404 " + ProxyError.NO_ROUTE + " /x?y=1");
    }
}
