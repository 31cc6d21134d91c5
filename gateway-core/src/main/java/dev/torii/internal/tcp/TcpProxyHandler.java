package dev.torii.internal.tcp;

import dev.torii.Hook;
import dev.torii.internal.Engine;
import dev.torii.internal.proxyprotocol.ClientAddresses;
import dev.torii.internal.proxyprotocol.ProxyProtocolHandler;
import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.SniRouting;
import dev.torii.tcp.TcpConnectionLog;
import dev.torii.tcp.TcpListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proxies one client connection of a {@link TcpListener}: CONNECT hooks, then a backend connection on the same event
 * loop (opened by a {@link BackendConnector}), then bytes both ways, until both directions end, either side closes, or
 * the connection's {@link IdleTimeout} closes it.
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

    private final Engine engine;
    private final TcpListener listener;
    private final List<Hook> globalHooks;
    private Channel client;
    private DefaultConnection conn;
    private BackendConnector connector;
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
    private IdleTimeout idleTimeout;
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
        start = Instant.now();
        engine.tcpConnectionStarted();
        conn = new DefaultConnection(
                listener.name(),
                (InetSocketAddress) client.remoteAddress(),
                (InetSocketAddress) client.localAddress(),
                client.eventLoop(),
                engine.snapshot().table(),
                listener.upstream());
        idleTimeout = new IdleTimeout(client, listener.idleTimeout(), conn);
        idleTimeout.start(startNanos);
        connector = new BackendConnector(
                engine,
                conn,
                client,
                listener.options().sendProxyProtocol(),
                BackendHandler::new,
                this::backendConnected);
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
        connector.connect();
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

    /** The backend connector's callback: relays what the client sent meanwhile, then reads both sides. */
    private void backendConnected(Channel ch, InetSocketAddress address) {
        backend = ch;
        connected = true;
        backendAddress = address;
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
        idleTimeout.touch();
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
        if (idleTimeout != null) {
            idleTimeout.stop();
        }
        if (early != null) {
            early.forEach(ReferenceCountUtil::release);
            early = null;
        }
        if (connector != null) {
            connector.endpointDone();
            Channel b = connector.channel();
            if (b != null) {
                closeAfterFlush(b);
            }
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
            idleTimeout.touch();
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
            if (connected && ctx.channel() == connector.channel()) {
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
