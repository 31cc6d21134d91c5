package dev.torii.internal.upstream;

import dev.torii.internal.tls.ClientTls;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.HealthCheck;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The active health checks of the gateway's upstreams: one probe per endpoint of each upstream that has a
 * {@link HealthCheck}, each on one of the gateway's event loops, off the request path and never blocking. A probe
 * resolves the endpoint, opens a connection of its own (never a pooled one, so a check cannot take a connection from
 * a request or be answered by a connection that is about to go stale), sends {@code GET path} with
 * {@code Connection: close} and judges the response head's status; the connection is then closed. For an HTTP/2
 * upstream (h2c or h2) the check is the connect and the TLS handshake, since the endpoint may not speak HTTP/1.1; a
 * {@link HealthCheck#connectOnly() TCP connect check} (the upstreams of TCP listeners) is the connect alone.
 *
 * <p>{@link #update} follows routing-table swaps: probes of upstream states that left the table stop, states that
 * came in get probes. Health itself lives in the {@link UpstreamState} (kept per endpoint across swaps), so a swap
 * never resets it.
 *
 * <p>Thread-safe: {@link #update} and {@link #close} are synchronized; each probe runs on its own event loop.
 */
public final class HealthChecks implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HealthChecks.class);

    private final EventLoopGroup group;
    private final Class<? extends Channel> channelClass;
    private final EndpointResolver resolver;
    private final Map<UpstreamState, List<Probe>> running = new IdentityHashMap<>();
    private boolean closed;

    /** Checks run on {@code group}'s loops, over {@code channelClass} connections, names resolved by {@code resolver}. */
    public HealthChecks(EventLoopGroup group, Class<? extends Channel> channelClass, EndpointResolver resolver) {
        this.group = group;
        this.channelClass = channelClass;
        this.resolver = resolver;
    }

    /** Runs the checks of {@code states} (those with a {@link HealthCheck}) and stops those of any other state. */
    public synchronized void update(Iterable<UpstreamState> states) {
        if (closed) {
            return;
        }
        Map<UpstreamState, List<Probe>> keep = new IdentityHashMap<>();
        for (UpstreamState state : states) {
            if (state.upstream.healthCheck() == null) {
                continue;
            }
            List<Probe> probes = running.remove(state);
            if (probes == null) {
                probes = new ArrayList<>();
                for (int i = 0; i < state.size(); i++) {
                    Probe p = new Probe(state, i, group.next());
                    probes.add(p);
                    p.start();
                }
            }
            keep.put(state, probes);
        }
        running.values().forEach(list -> list.forEach(Probe::stop));
        running.clear();
        running.putAll(keep);
    }

    /** Stops every check. */
    @Override
    public synchronized void close() {
        closed = true;
        running.values().forEach(list -> list.forEach(Probe::stop));
        running.clear();
    }

    /** The checks of one endpoint: one at a time, each scheduled when the previous one ended. */
    private final class Probe {
        private final UpstreamState state;
        private final int index;
        private final EventLoop loop;
        private final HealthCheck check;
        private volatile boolean stopped;
        private ScheduledFuture<?> next;
        private Channel channel;

        Probe(UpstreamState state, int index, EventLoop loop) {
            this.state = state;
            this.index = index;
            this.loop = loop;
            this.check = state.upstream.healthCheck();
        }

        void start() {
            // The first check soon (within the jitter), so a dead endpoint is found without waiting a whole interval.
            loop.execute(() -> schedule(jitterNanos()));
        }

        void stop() {
            stopped = true;
            loop.execute(() -> {
                if (next != null) {
                    next.cancel(false);
                }
                if (channel != null) {
                    channel.close();
                }
            });
        }

        private long jitterNanos() {
            long jitter = check.jitter().toNanos();
            return jitter > 0 ? ThreadLocalRandom.current().nextLong(jitter + 1) : 0;
        }

        private void schedule(long delayNanos) {
            if (stopped) {
                return;
            }
            next = loop.schedule(this::run, delayNanos, TimeUnit.NANOSECONDS);
        }

        private void run() {
            if (stopped) {
                return;
            }
            Endpoint endpoint = state.endpoint(index);
            Attempt attempt = new Attempt();
            attempt.timeout = loop.schedule(
                    () -> attempt.done(
                            false, "no answer within " + check.timeout().toMillis() + " ms"),
                    check.timeout().toNanos(),
                    TimeUnit.NANOSECONDS);
            InetSocketAddress literal = state.literalAddress(index);
            if (literal != null) {
                connect(attempt, endpoint, literal);
                return;
            }
            resolver.resolve(endpoint, loop).addListener(f -> {
                if (attempt.ended) {
                    return;
                }
                if (!f.isSuccess()) {
                    attempt.done(false, "cannot resolve " + endpoint.host() + ": " + f.cause());
                    return;
                }
                connect(attempt, endpoint, (InetSocketAddress) f.getNow());
            });
        }

        private void connect(Attempt attempt, Endpoint endpoint, InetSocketAddress address) {
            // An HTTP/2 upstream may not speak HTTP/1.1, and a TCP connect check sends nothing: both pass on connect
            // (and the TLS handshake).
            boolean http2 = state.upstream.protocol().http2() || check.connectOnly();
            ChannelFuture f = new Bootstrap()
                    .group(loop)
                    .channel(channelClass)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int)
                            Math.min(Integer.MAX_VALUE, check.timeout().toMillis()))
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            if (state.upstream.proxyProtocol() != null) {
                                // An endpoint that wants a PROXY header refuses a check without one: LOCAL/UNKNOWN.
                                ch.pipeline()
                                        .addLast(
                                                "proxy-header",
                                                new ProxyHeaderWriter(state.upstream.proxyProtocol(), null, null));
                            }
                            if (state.sslContext != null) {
                                String name = ClientTls.peerName(state.upstream, endpoint);
                                SslHandler tls = state.sslContext.newHandler(ch.alloc(), name, address.getPort());
                                ch.pipeline().addLast("tls", tls);
                            }
                            if (!http2) {
                                ch.pipeline().addLast("codec", new HttpClientCodec());
                                ch.pipeline().addLast("check", new ResponseHead(attempt));
                            }
                        }
                    })
                    .connect(address);
            attempt.channel = channel = f.channel();
            f.addListener(done -> {
                if (!done.isSuccess()) {
                    attempt.done(false, "connect: " + done.cause().getMessage());
                    return;
                }
                f.channel().closeFuture().addListener(x -> attempt.done(false, "closed before a response"));
                SslHandler tls = f.channel().pipeline().get(SslHandler.class);
                if (tls == null) {
                    sent(attempt, endpoint, http2);
                    return;
                }
                tls.handshakeFuture().addListener(h -> {
                    if (h.isSuccess()) {
                        sent(attempt, endpoint, http2);
                    } else {
                        attempt.done(false, "TLS: " + h.cause());
                    }
                });
            });
        }

        private void sent(Attempt attempt, Endpoint endpoint, boolean http2) {
            if (http2) {
                attempt.done(true, "connected");
                return;
            }
            var request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, check.path());
            request.headers()
                    .set(HttpHeaderNames.HOST, check.host() != null ? check.host() : endpoint.authority())
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE)
                    .set(HttpHeaderNames.USER_AGENT, "torii-health-check");
            attempt.channel.writeAndFlush(request).addListener(w -> {
                if (!w.isSuccess()) {
                    attempt.done(false, "write: " + w.cause());
                }
            });
        }

        /** One check: its outcome counts once, whatever reports it first (response, close, timeout). */
        private final class Attempt {
            Channel channel;
            ScheduledFuture<?> timeout;
            boolean ended;

            void done(boolean passed, String why) {
                if (ended) {
                    return;
                }
                ended = true;
                if (timeout != null) {
                    timeout.cancel(false);
                }
                if (channel != null) {
                    channel.close();
                }
                if (stopped) {
                    return;
                }
                if (log.isDebugEnabled()) {
                    log.debug(
                            "health check of upstream '{}' endpoint {}: {} ({})",
                            state.upstream.name(),
                            state.endpoint(index),
                            passed ? "passed" : "failed",
                            why);
                }
                state.checked(index, passed, why);
                schedule(check.interval().toNanos() + jitterNanos());
            }
        }

        /** Reads the response head and judges its status. */
        private final class ResponseHead extends SimpleChannelInboundHandler<HttpObject> {
            private final Attempt attempt;

            ResponseHead(Attempt attempt) {
                this.attempt = attempt;
            }

            @Override
            protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
                if (msg instanceof HttpResponse response) {
                    int status = response.status().code();
                    if (status >= 100 && status < 200) {
                        return;
                    }
                    boolean valid = !response.decoderResult().isFailure();
                    attempt.done(
                            valid && check.expectedStatuses().contains(status),
                            valid
                                    ? "status " + status
                                    : "invalid response: "
                                            + response.decoderResult().cause());
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                attempt.done(false, cause.toString());
            }
        }
    }
}
