package dev.torii.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.Forwarding;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Http2Limits;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.ProxyError;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawClient;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The exchange's states as requests drive it: in memory, and once through a real upstream. */
class ExchangeDriverTest {
    private static RoutingTable table(String endpoint) {
        return RoutingTable.builder()
                .upstream(Upstream.builder("app").endpoint(endpoint).build())
                .route(Route.builder("api").host("api.test").upstream("app").build())
                .build();
    }

    private static Engine engine(RoutingTable table, Limits limits, Hook... hooks) {
        return new Engine(
                List.of(Listener.http("web", "127.0.0.1:0")),
                table,
                List.of(hooks),
                limits,
                Http2Limits.defaults(),
                Forwarding.defaults(),
                ErrorResponder.plainText(),
                1,
                null);
    }

    /** An in-memory HTTP/1.1 client connection whose transitions are recorded as "FROM->TO". */
    private record Client(EmbeddedChannel ch, ExchangeDriver driver, List<String> transitions) {
        void send(String raw) {
            ch.writeInbound(Unpooled.copiedBuffer(raw, StandardCharsets.ISO_8859_1));
            ch.runPendingTasks();
        }

        String output() {
            var sb = new StringBuilder();
            Object o;
            while ((o = ch.readOutbound()) != null) {
                ByteBuf b = (ByteBuf) o;
                sb.append(b.toString(StandardCharsets.ISO_8859_1));
                b.release();
            }
            return sb.toString();
        }
    }

    private static Client client(Limits limits, Hook... hooks) {
        Engine engine = engine(table("127.0.0.1:9"), limits, hooks);
        EmbeddedChannel ch = new EmbeddedChannel(false, false);
        ch.config().setOption(ChannelOption.AUTO_READ, false);
        engine.initHttp1(ch, engine.decoderConfig());
        ExchangeDriver driver = ch.pipeline().get(ProxyHandler.class).exchange();
        List<String> transitions = new ArrayList<>();
        driver.observe((from, to) -> transitions.add(from + "->" + to));
        try {
            ch.register();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        return new Client(ch, driver, transitions);
    }

    private static Client client(Hook... hooks) {
        return client(Limits.defaults(), hooks);
    }

    @Test
    void aConnectionStartsIdle() {
        Client c = client();
        assertThat(c.driver().state()).isEqualTo(ExchangeState.IDLE);
        assertThat(c.driver().current()).isNull();
    }

    @Test
    void aRequestWithoutRouteIsAnsweredLocallyAndItsEmptyEndIsDiscardedBeforeTheNextHead() {
        Client c = client();
        c.send("GET /x HTTP/1.1\r\nHost: nowhere.test\r\n\r\n");
        assertThat(c.output()).startsWith("HTTP/1.1 404 ");
        assertThat(c.transitions())
                .containsExactly(
                        "IDLE->REQUEST_HOOKS",
                        "REQUEST_HOOKS->ROUTING",
                        "ROUTING->LOCAL_RESPONSE",
                        "LOCAL_RESPONSE->DISCARDING",
                        "DISCARDING->IDLE");
        assertThat(c.ch().isActive()).isTrue();
    }

    @Test
    void anUpstreamHookThatAnswersSkipsConnecting() {
        Hook answer = new Hook() {
            @Override
            public HookResult onUpstream(Exchange ex) {
                return HookResult.respond(204, "");
            }
        };
        Client c = client(answer);
        c.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(c.output()).startsWith("HTTP/1.1 204 ");
        assertThat(c.transitions())
                .containsExactly(
                        "IDLE->REQUEST_HOOKS",
                        "REQUEST_HOOKS->ROUTING",
                        "ROUTING->UPSTREAM_HOOKS",
                        "UPSTREAM_HOOKS->LOCAL_RESPONSE",
                        "LOCAL_RESPONSE->DISCARDING",
                        "DISCARDING->IDLE");
    }

    @Test
    void aClientThatAsksToCloseEndsInClosedAfterItsResponse() {
        Client c = client();
        c.send("GET /x HTTP/1.1\r\nHost: nowhere.test\r\nConnection: close\r\n\r\n");
        assertThat(c.output()).startsWith("HTTP/1.1 404 ").contains("connection: close");
        assertThat(c.transitions())
                .containsExactly(
                        "IDLE->REQUEST_HOOKS",
                        "REQUEST_HOOKS->ROUTING",
                        "ROUTING->LOCAL_RESPONSE",
                        "LOCAL_RESPONSE->FINISHING",
                        "FINISHING->CLOSED");
        c.ch().runPendingTasks();
        assertThat(c.ch().isActive()).isFalse();
    }

    @Test
    void aDeclaredBodyOverTheLimitIsRefusedBeforeRoutingAndTheConnectionCloses() {
        Client c = client(Limits.builder().maxRequestBodySize(10).build());
        c.send("POST /x HTTP/1.1\r\nHost: api.test\r\nContent-Length: 11\r\n\r\n");
        assertThat(c.output()).startsWith("HTTP/1.1 413 ");
        assertThat(c.transitions())
                .containsExactly(
                        "IDLE->REQUEST_HOOKS",
                        "REQUEST_HOOKS->LOCAL_RESPONSE",
                        "LOCAL_RESPONSE->FINISHING",
                        "FINISHING->CLOSED");
    }

    @Test
    void anUnparseableRequestClosesFromIdle() {
        Client c = client();
        c.send("NOT HTTP\r\n\r\n");
        assertThat(c.output()).startsWith("HTTP/1.1 400 ");
        assertThat(c.transitions()).containsExactly("IDLE->CLOSED");
    }

    @Test
    void anExchangeWaitingForAHookEndsInClosedWhenTheClientLeavesAndTheHookIsThenIgnored() {
        var decision = new CompletableFuture<HookResult>();
        var logged = new ArrayList<ProxyError>();
        Hook slow = new Hook() {
            @Override
            public HookResult onRequest(Exchange ex) {
                return HookResult.later(decision);
            }

            @Override
            public void onLog(Exchange ex) {
                logged.add(ex.log().error());
            }
        };
        Client c = client(slow);
        c.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(c.driver().state()).isEqualTo(ExchangeState.REQUEST_HOOKS);
        c.ch().close();
        assertThat(c.driver().state()).isEqualTo(ExchangeState.CLOSED);
        assertThat(logged).containsExactly(ProxyError.CLIENT_ABORTED);
        decision.complete(HookResult.proceed());
        c.ch().runPendingTasks();
        assertThat(c.transitions()).containsExactly("IDLE->REQUEST_HOOKS", "REQUEST_HOOKS->CLOSED");
        assertThat(c.output()).isEmpty();
    }

    @Test
    void anIllegalTransitionThrowsInTestsAndLeavesTheStateAlone() {
        Client c = client();
        assertThat(ExchangeDriver.STRICT).as("tests run with assertions on").isTrue();
        assertThatThrownBy(() -> c.driver().moveTo(ExchangeState.RELAYING))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("illegal exchange transition IDLE -> RELAYING (expected one of [REQUEST_HOOKS, CLOSED])");
        assertThat(c.driver().state()).isEqualTo(ExchangeState.IDLE);
        assertThat(c.transitions()).isEmpty();
    }

    @Test
    void anIllegalTransitionInProductionFailsTheExchangeAndClosesTheConnection() {
        var decision = new CompletableFuture<HookResult>();
        Hook slow = new Hook() {
            @Override
            public HookResult onRequest(Exchange ex) {
                return HookResult.later(decision);
            }
        };
        Client c = client(slow);
        c.driver().strict(false);
        c.send("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n");
        assertThat(c.driver().moveTo(ExchangeState.FINISHING)).isFalse();
        assertThat(c.driver().state()).isEqualTo(ExchangeState.CLOSED);
        assertThat(c.ch().isActive()).isFalse();
        decision.complete(HookResult.proceed());
        c.ch().runPendingTasks();
        assertThat(c.output()).as("nothing is written for the failed exchange").isEmpty();
    }

    @Test
    void aProxiedExchangeGoesThroughEveryUpstreamStateAndBackToIdle() throws Exception {
        // The engine's transport: its pool opens upstream connections of that kind on the client's event loop.
        Transport transport = Transport.best();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, transport.ioHandlerFactory());
        try (TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "hello\n"))) {
            Hook onResponse = new Hook() {
                @Override
                public HookResult onResponse(Exchange ex) {
                    ex.response().headers().set("x-seen", "1");
                    return HookResult.proceed();
                }
            };
            Engine engine = engine(table(upstream.endpoint()), Limits.defaults(), onResponse);
            List<String> transitions = Collections.synchronizedList(new ArrayList<>());
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverChannel())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            engine.initHttp1(ch, engine.decoderConfig());
                            ch.pipeline()
                                    .get(ProxyHandler.class)
                                    .exchange()
                                    .observe((from, to) -> transitions.add(from + "->" + to));
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0))
                    .sync()
                    .channel();
            try (var client = new RawClient((InetSocketAddress) server.localAddress())) {
                for (int i = 0; i < 2; i++) {
                    var response = client.write("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n")
                            .readResponse();
                    assertThat(response.status()).as(response.toString()).isEqualTo(200);
                    assertThat(response.header("x-seen")).isEqualTo("1");
                    assertThat(response.bodyText()).isEqualTo("hello\n");
                }
            } finally {
                server.close().sync();
            }
            // The connection's close may still be recording its last transition on the loop: a copy, taken under the
            // list's lock, is what the assertions read.
            List<String> seen;
            synchronized (transitions) {
                seen = List.copyOf(transitions);
            }
            // The second request was read once the first exchange was back in IDLE.
            assertThat(seen.subList(0, 9))
                    .containsExactly(
                            "IDLE->REQUEST_HOOKS",
                            "REQUEST_HOOKS->ROUTING",
                            "ROUTING->UPSTREAM_HOOKS",
                            "UPSTREAM_HOOKS->CONNECTING",
                            "CONNECTING->FORWARDING",
                            "FORWARDING->RESPONSE_HOOKS",
                            "RESPONSE_HOOKS->RELAYING",
                            "RELAYING->FINISHING",
                            "FINISHING->IDLE");
            assertThat(seen.subList(9, 17)).isEqualTo(seen.subList(0, 8));
        } finally {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void aSmallResponseReachesTheClientAsOneBufferWithItsHead() throws Exception {
        Transport transport = Transport.best();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, transport.ioHandlerFactory());
        try (TestUpstream upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "hello\n"))) {
            Engine engine = engine(table(upstream.endpoint()), Limits.defaults());
            List<String> writes = Collections.synchronizedList(new ArrayList<>());
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverChannel())
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            engine.initHttp1(ch, engine.decoderConfig());
                            // Nearest the socket: sees every buffer the connection writes.
                            ch.pipeline().addFirst(new ChannelOutboundHandlerAdapter() {
                                @Override
                                public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                                    if (msg instanceof ByteBuf b && b.isReadable()) {
                                        writes.add(b.toString(StandardCharsets.ISO_8859_1));
                                    }
                                    ctx.write(msg, promise);
                                }
                            });
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", 0))
                    .sync()
                    .channel();
            try (var client = new RawClient((InetSocketAddress) server.localAddress())) {
                var response = client.write("GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n")
                        .readResponse();
                assertThat(response.bodyText()).isEqualTo("hello\n");
            } finally {
                server.close().sync();
            }
            List<String> seen;
            synchronized (writes) {
                seen = List.copyOf(writes);
            }
            assertThat(seen).hasSize(1);
            assertThat(seen.get(0)).startsWith("HTTP/1.1 200 ").endsWith("\r\n\r\nhello\n");
        } finally {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }
}
