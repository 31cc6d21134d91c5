package dev.torii.internal.tcp;

import dev.torii.Hook;
import dev.torii.internal.Engine;
import dev.torii.internal.proxyprotocol.ClientAddresses;
import dev.torii.internal.proxyprotocol.ProxyProtocolHandler;
import dev.torii.internal.upstream.UpstreamState;
import dev.torii.proxyprotocol.ProxyProtocolVersion;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.SniRouting;
import dev.torii.tcp.TcpConnectionLog;
import dev.torii.tcp.TcpListener;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.Upstream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proxies one client connection of a {@link TcpListener}: CONNECT hooks, then a backend connection on the same event
 * loop, then bytes both ways.
 *
 * <p>Reads are explicit on both channels ({@code AUTO_READ} off): a side is read again after a read batch only while
 * the other side is writable, else when the other side's writability comes back. So a slow reader stops the other
 * side instead of making the proxy buffer; per connection at most one read batch beyond the write-buffer high-water
 * mark is held. The client is not read at all before the backend is connected: what it sends waits in the kernel.
 *
 * <p>Half-close: both channels allow half-closure. When one side ends its output (FIN), the proxy flushes what it
 * relayed and shuts down its output towards the other side, which may go on sending; when both directions have ended,
 * or either side closes or resets, both are closed (after a flush).
 *
 * <p>Ownership: a buffer read on one side is written to the other (which releases it), or released here when the
 * other side is gone.
 */
public final class TcpProxyHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TcpProxyHandler.class);

    /** For an endpoint chosen by a hook when the connection's upstream is gone from the routing table. */
    private static final long DEFAULT_CONNECT_TIMEOUT_MILLIS = 5000;

    private final Engine engine;
    private final TcpListener listener;
    private final List<Hook> globalHooks;
    private Channel client;
    private DefaultConnection conn;
    private UpstreamState upstreamState;
    private int endpointIndex = -1;
    private boolean retried;
    private Channel backend;
    private boolean connected;
    private boolean clientReadPaused;
    private boolean backendReadPaused;
    private boolean clientInputEnded;
    private boolean backendInputEnded;
    private boolean flushBackend;
    /**
     * What the client sent before the backend was connected. Reads are not asked for then, but the epoll transport
     * reads anyway when the client half-closes (EPOLLRDHUP), so this holds at most one read batch.
     */
    private ArrayDeque<Object> early;
    /** Whether a trusted peer's PROXY protocol header is still to come (nothing else runs before it). */
    private boolean awaitingProxyHeader;
    // For the connection log and metrics (TcpConnectionLog).
    private long startNanos;
    private Instant start;
    private long bytesFromClient;
    private long bytesToClient;
    private boolean rejected;
    private InetSocketAddress backendAddress;

    private boolean flushClient;
    /** When a byte last came from either side; the idle timer compares it with the listener's idle timeout. */
    private long lastReadNanos;

    private ScheduledFuture<?> idleTimer;
    private final ProxyProtocolHandler.Trust proxyTrust;

    /**
     * The handler of one client connection accepted by {@code listener}, whose PROXY-protocol trust ({@code null}: none)
     * the listener's initializer parsed once; used on that connection's event loop.
     */
    public TcpProxyHandler(Engine engine, TcpListener listener, ProxyProtocolHandler.Trust proxyTrust) {
        this.engine = engine;
        this.listener = listener;
        this.proxyTrust = proxyTrust;
        this.globalHooks = engine.hooks();
    }

    // ------------------------------------------------------------------ CONNECT phase

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        awaitingProxyHeader = ProxyProtocolHandler.installBefore(ctx.pipeline(), ctx.name(), proxyTrust);
        SniRouting sni = listener.options().sni();
        if (sni != null) {
            ctx.pipeline()
                    .addBefore(
                            ctx.name(),
                            "sni",
                            new ClientHelloPeekHandler(
                                    sni.maxClientHelloBytes(),
                                    sni.clientHelloTimeout().toMillis()));
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        client = ctx.channel();
        startNanos = System.nanoTime();
        lastReadNanos = startNanos;
        start = Instant.now();
        idleTimer = client.eventLoop()
                .schedule(this::idleCheck, listener.idleTimeout().toNanos(), TimeUnit.NANOSECONDS);
        engine.tcpConnectionStarted();
        conn = new DefaultConnection(
                listener.name(),
                (InetSocketAddress) client.remoteAddress(),
                (InetSocketAddress) client.localAddress(),
                client.eventLoop(),
                engine.snapshot().table(),
                listener.upstream());
        if (awaitingProxyHeader) {
            // The PROXY header comes first: it says who the client is before anything else runs.
            client.read();
        } else {
            clientAddressKnown();
        }
        ctx.fireChannelActive();
    }

    private void clientAddressKnown() {
        if (listener.options().sni() != null) {
            // The ClientHello comes next: its server name chooses the upstream before the hooks run.
            client.read();
        } else {
            runHooks(0);
        }
    }

    private void serverNameKnown(SniCompletionEvent event) {
        if (!event.isSuccess()) {
            // Too slow, too long or not TLS at all: the parser closes the connection.
            log.debug("{}: no ClientHello: {}", conn, event.cause().toString());
            client.close();
            return;
        }
        conn.sni = event.hostname();
        String upstream = listener.options().sni().upstreamFor(conn.sni, listener.upstream());
        if (upstream == null) {
            log.debug("{}: server name '{}' has no route; refused", conn, conn.sni);
            rejected = true;
            engine.tcpConnectionRejected();
            client.close();
            return;
        }
        conn.upstreamName = upstream;
        runHooks(0);
    }

    private Hook hook(int i) {
        return i < globalHooks.size() ? globalHooks.get(i) : listener.hooks().get(i - globalHooks.size());
    }

    private void runHooks(int from) {
        int total = globalHooks.size() + listener.hooks().size();
        for (int i = from; i < total; i++) {
            Hook hook = hook(i);
            ConnectResult result;
            try {
                result = hook.onConnect(conn);
            } catch (Throwable t) {
                hookFailed(hook, t);
                return;
            }
            if (!handle(result, i, hook)) {
                return;
            }
        }
        conn.choosing = false;
        connectBackend(-1);
    }

    /** Returns true to go on with the next hook synchronously. */
    private boolean handle(ConnectResult result, int index, Hook hook) {
        if (result == null || result == ConnectResult.proceed()) {
            return true;
        }
        if (result == ConnectResult.reject()) {
            log.debug("{} rejected by hook {}", conn, hook.name());
            rejected = true;
            engine.tcpConnectionRejected();
            client.close();
            return false;
        }
        var later = (ConnectResult.Later) result;
        later.stage().whenComplete((r, error) -> client.eventLoop().execute(() -> {
            if (!client.isActive()) {
                return;
            }
            if (error != null) {
                hookFailed(hook, error);
            } else if (handle(r, index, hook)) {
                runHooks(index + 1);
            }
        }));
        return false;
    }

    private void hookFailed(Hook hook, Throwable cause) {
        log.warn("hook {} failed in phase CONNECT for {}: {}", hook.name(), conn, cause.toString());
        client.close();
    }

    // ------------------------------------------------------------------ backend

    private void connectBackend(int exclude) {
        if (!client.isActive()) {
            return;
        }
        Engine.Snapshot snapshot = engine.snapshot();
        upstreamState = snapshot.upstream(conn.upstreamName);
        Endpoint endpoint = conn.endpointOverride;
        InetSocketAddress literal = null;
        if (endpoint == null) {
            if (upstreamState == null) {
                log.warn("{}: upstream '{}' is not in the routing table; closing", conn, conn.upstreamName);
                client.close();
                return;
            }
            endpointIndex = upstreamState.pick(exclude);
            if (endpointIndex < 0) {
                log.debug("{}: upstream '{}' has no endpoint to try; closing", conn, conn.upstreamName);
                client.close();
                return;
            }
            endpoint = upstreamState.endpoint(endpointIndex);
            upstreamState.started(endpointIndex);
            literal = upstreamState.literalAddress(endpointIndex);
        }
        Endpoint target = endpoint;
        if (literal != null) {
            connect(target, literal);
            return;
        }
        engine.resolver().resolve(target, client.eventLoop()).addListener(f -> {
            if (!client.isActive()) {
                return;
            }
            if (!f.isSuccess()) {
                log.debug(
                        "{}: cannot resolve {}: {}",
                        conn,
                        target.host(),
                        f.cause().toString());
                client.close();
                return;
            }
            connect(target, (InetSocketAddress) f.getNow());
        });
    }

    private void connect(Endpoint endpoint, InetSocketAddress address) {
        Upstream settings = upstreamState != null ? upstreamState.upstream : null;
        long timeoutMillis = settings != null ? settings.connectTimeout().toMillis() : DEFAULT_CONNECT_TIMEOUT_MILLIS;
        // The channel is built, registered and connected here rather than by a Bootstrap: a Bootstrap per connection
        // copies its option map, looks up an address resolver (under a lock) and connects from a task it queues on
        // the loop; here the address is resolved already and this code runs on the loop that will own the channel.
        // TCP_NODELAY is on already (see Transport#newSocketChannel): setting it again would be one more system call.
        Channel ch = engine.tcpTransport().newSocketChannel(address);
        ChannelConfig config = ch.config();
        config.setAutoRead(false);
        config.setConnectTimeoutMillis((int) Math.min(Integer.MAX_VALUE, timeoutMillis));
        config.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        ch.pipeline().addLast(new BackendHandler());
        backend = ch;
        client.eventLoop().register(ch).addListener(registered -> {
            if (!registered.isSuccess()) {
                ch.unsafe().closeForcibly();
                connectDone(ch, registered.cause(), endpoint, address);
                return;
            }
            ch.connect(address).addListener(done -> connectDone(ch, done.cause(), endpoint, address));
        });
    }

    /** After the backend connect: {@code failure} is {@code null} when it succeeded. */
    private void connectDone(Channel ch, Throwable failure, Endpoint endpoint, InetSocketAddress address) {
        if (!client.isActive()) {
            ch.close();
            return;
        }
        if (failure == null) {
            // Counted like the HTTP pools': opened when the connect succeeded, failed apart (by reason).
            engine.upstreamConnectionOpened();
            if (upstreamState != null) {
                engine.upstreamCounters().connected(upstreamState.upstream.name());
            }
            connected = true;
            backendAddress = address;
            if (listener.options().sendProxyProtocol() != null) {
                sendProxyHeader(listener.options().sendProxyProtocol());
            }
            if (early != null) {
                for (Object m; (m = early.poll()) != null; ) {
                    backend.write(m, backend.voidPromise());
                }
                backend.flush();
                early = null;
            }
            if (clientInputEnded) {
                shutdownOutputAfterFlush(backend);
            } else {
                client.read();
            }
            backend.read();
            return;
        }
        engine.upstreamConnectFailed();
        if (upstreamState != null) {
            engine.upstreamCounters()
                    .connectFailed(
                            upstreamState.upstream.name(),
                            dev.torii.internal.upstream.UpstreamCounters.reasonOf(failure));
        }
        endpointDone();
        backend = null;
        boolean another = conn.endpointOverride == null && upstreamState.size() > 1;
        if (!retried && another) {
            retried = true;
            log.debug("{}: connect to {} failed ({}); trying another endpoint", conn, endpoint, failure.toString());
            connectBackend(endpointIndex);
            return;
        }
        log.debug("{}: connect to {} failed: {}; closing", conn, endpoint, failure.toString());
        client.close();
    }

    /** Tells the backend who the client is, before any of the client's bytes. */
    private void sendProxyHeader(ProxyProtocolVersion version) {
        InetSocketAddress src = conn.clientAddress();
        InetSocketAddress dst = conn.localAddress();
        boolean v6 = src.getAddress() instanceof Inet6Address;
        String dstIp = dst.getAddress() instanceof Inet6Address == v6
                ? dst.getAddress().getHostAddress()
                : v6 ? "::" : "0.0.0.0"; // both addresses must be of one family
        var header = new HAProxyMessage(
                version == ProxyProtocolVersion.V1 ? HAProxyProtocolVersion.V1 : HAProxyProtocolVersion.V2,
                HAProxyCommand.PROXY,
                v6 ? HAProxyProxiedProtocol.TCP6 : HAProxyProxiedProtocol.TCP4,
                src.getAddress().getHostAddress(),
                dstIp,
                src.getPort(),
                dst.getPort());
        backend.pipeline().addFirst("proxy-protocol-encoder", HAProxyMessageEncoder.INSTANCE);
        backend.writeAndFlush(header, backend.voidPromise());
        backend.pipeline().remove("proxy-protocol-encoder");
    }

    private void endpointDone() {
        if (endpointIndex >= 0) {
            upstreamState.finished(endpointIndex);
            endpointIndex = -1;
        }
    }

    /**
     * The idle timeout, kept here rather than by an {@code IdleStateHandler}: that handler swaps every void write
     * promise for a real one with a listener (to see writes complete), a cost on each relayed buffer. A byte relayed is
     * a byte read on the other side, so reads on both channels tell the same as reads and writes on the client's.
     */
    private void idleCheck() {
        if (!client.isActive()) {
            return;
        }
        long idleNanos = listener.idleTimeout().toNanos();
        long left = lastReadNanos + idleNanos - System.nanoTime();
        if (left > 0) {
            idleTimer = client.eventLoop().schedule(this::idleCheck, left, TimeUnit.NANOSECONDS);
            return;
        }
        log.debug("{}: idle for {}; closing", conn, listener.idleTimeout());
        client.close();
    }

    // ------------------------------------------------------------------ client side

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b) {
            bytesFromClient += b.readableBytes();
        }
        if (backend != null && connected && backend.isActive()) {
            backend.write(msg, backend.voidPromise());
            flushBackend = true;
        } else if (!connected && client.isActive()) {
            if (early == null) {
                early = new ArrayDeque<>(4);
            }
            early.add(msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        lastReadNanos = System.nanoTime();
        if (flushBackend) {
            flushBackend = false;
            backend.flush();
        }
        if (connected && !clientInputEnded) {
            if (backend.isWritable()) {
                client.read();
            } else {
                clientReadPaused = true;
            }
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (client.isWritable() && backendReadPaused && !backendInputEnded) {
            backendReadPaused = false;
            backend.read();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt == ProxyProtocolHandler.DONE) {
            awaitingProxyHeader = false;
            conn.client = ClientAddresses.of(client);
            clientAddressKnown();
        } else if (evt instanceof SniCompletionEvent sni) {
            serverNameKnown(sni);
        } else if (evt instanceof ChannelInputShutdownEvent) {
            clientInputEnded = true;
            if (backendInputEnded) {
                // Both directions ended: closing both (after their flush) sends the FIN a shutdown would have sent.
                finishIfBothEnded();
            } else if (connected) {
                shutdownOutputAfterFlush(backend);
            } // else passed on once the backend is connected
        } else if (evt == Engine.DRAIN) {
            // An established byte stream has no point at which it could stop cleanly; it runs until it ends or the
            // shutdown deadline passes. One still choosing its backend never started: close it.
            if (!connected) {
                client.close();
            }
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (idleTimer != null) {
            idleTimer.cancel(false);
            idleTimer = null;
        }
        if (early != null) {
            early.forEach(ReferenceCountUtil::release);
            early = null;
        }
        endpointDone();
        if (backend != null) {
            closeAfterFlush(backend);
        }
        engine.tcpConnectionFinished();
        if (conn != null) {
            connectionClosed();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            log.debug("{} failed", conn, cause);
        }
        ctx.close();
    }

    /** Hands the connection's record to the global hooks (connection log, metrics). */
    private void connectionClosed() {
        var record = new TcpConnectionLog(
                listener.name(),
                conn.client,
                conn.sni,
                rejected ? null : conn.upstreamName,
                backendAddress,
                start,
                Duration.ofNanos(System.nanoTime() - startNanos),
                bytesFromClient,
                bytesToClient,
                rejected
                        ? TcpConnectionLog.Outcome.REJECTED
                        : connected ? TcpConnectionLog.Outcome.CLOSED : TcpConnectionLog.Outcome.NO_BACKEND);
        for (int i = 0; i < globalHooks.size(); i++) {
            Hook h = globalHooks.get(i);
            try {
                h.onConnectionClosed(record);
            } catch (RuntimeException e) {
                log.warn("hook {} failed on a closed TCP connection of {}: {}", h.name(), conn, e.toString());
            }
        }
    }

    private void finishIfBothEnded() {
        if (clientInputEnded && backendInputEnded) {
            closeAfterFlush(client);
        }
    }

    private static void shutdownOutputAfterFlush(Channel ch) {
        if (!hasPendingWrites(ch)) {
            // Nothing queued: shut down at once, without an empty write and its promise.
            if (ch.isActive() && ch instanceof DuplexChannel d && !d.isOutputShutdown()) {
                shutdownOutput(d);
            } else {
                ch.close();
            }
            return;
        }
        // Shutting the output down fails writes still queued, so it waits for them.
        ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
            if (f.isSuccess() && ch instanceof DuplexChannel d) {
                shutdownOutput(d);
            } else {
                ch.close();
            }
        });
    }

    /**
     * Shuts down {@code ch}'s output, and turns half-closure off on it: nothing more can be written to its peer, so
     * when the peer's FIN comes the proxy has nothing left to do with {@code ch} but close it, and the transport then
     * closes it on that read (which closes the other side, as a close does) instead of shutting its input down (a
     * system call, which fails once both directions are shut) and firing an event for this handler to close it.
     */
    private static void shutdownOutput(DuplexChannel ch) {
        ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
        ch.shutdownOutput();
    }

    private static void closeAfterFlush(Channel ch) {
        if (!ch.isOpen()) {
            // Closed already (each side's close closes the other, so the second call always lands here): close()
            // would go through the pipeline and make a ClosedChannelException only to find that out.
            return;
        }
        if (ch.isActive() && hasPendingWrites(ch)) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            // Nothing queued (the common case: every write was flushed as it came): closing at once spares a promise,
            // a listener and, on a channel whose output is shut down already, the exception the empty write fails with.
            ch.close();
        }
    }

    /** Whether {@code ch} holds bytes not yet written to its socket (flushed or not). */
    private static boolean hasPendingWrites(Channel ch) {
        ChannelOutboundBuffer out = ch.unsafe().outboundBuffer();
        return out != null && out.totalPendingWriteBytes() > 0;
    }

    /** The backend connection's handler; runs on the same event loop as the client's. */
    private final class BackendHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf b) {
                bytesToClient += b.readableBytes();
            }
            if (client.isActive()) {
                client.write(msg, client.voidPromise());
                flushClient = true;
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            lastReadNanos = System.nanoTime();
            if (flushClient) {
                flushClient = false;
                client.flush();
            }
            if (!backendInputEnded) {
                if (client.isWritable()) {
                    ctx.channel().read();
                } else {
                    backendReadPaused = true;
                }
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && clientReadPaused && !clientInputEnded) {
                clientReadPaused = false;
                client.read();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                backendInputEnded = true;
                if (clientInputEnded) {
                    finishIfBothEnded();
                } else {
                    shutdownOutputAfterFlush(client);
                }
            }
            ReferenceCountUtil.release(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            // Only the backend in use: a failed first endpoint's channel may report its close after the retry to
            // another one connected (a refused loopback connect can fail at once, before the retry's connect).
            if (connected && ctx.channel() == backend) {
                closeAfterFlush(client);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!(cause instanceof IOException)) {
                log.debug("{}: backend connection failed", conn, cause);
            }
            ctx.close();
        }
    }
}
