package dev.torii.internal;

import static dev.torii.internal.ExchangeState.FINISHING;
import static dev.torii.internal.ExchangeState.RELAYING;
import static dev.torii.internal.ExchangeState.RESPONSE_HOOKS;
import static dev.torii.internal.ExchangeState.TUNNEL;

import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Phase;
import dev.torii.ProxyError;
import dev.torii.internal.tunnel.Tunnel;
import dev.torii.internal.tunnel.WebSocketUpgrade;
import dev.torii.internal.upstream.UpstreamConnection;
import dev.torii.internal.upstream.UpstreamListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * The response side of an exchange, from the upstream connection's reports: the response head through the RESPONSE
 * hooks ({@link ExchangeState#RESPONSE_HOOKS}, body parts held meanwhile), then the body relayed to the client with
 * backpressure ({@link ExchangeState#RELAYING}) until its last part ({@link ExchangeState#FINISHING}), or a
 * WebSocket {@code 101} handed to a {@link Tunnel} ({@link ExchangeState#TUNNEL}). Failures go back to the
 * {@link ExchangeDriver}, which decides between an error response and an abort.
 *
 * <p>Not thread-safe: confined to the client channel's event loop (which the upstream connection shares); reused by
 * the exchanges of one connection.
 */
final class ResponseRelay implements UpstreamListener {
    /**
     * The largest body written in one message with its head: what Netty's encoder copies into the head's buffer
     * (larger bodies go as a buffer of their own either way).
     */
    private static final int MERGED_BODY_MAX = 128;

    private final ExchangeDriver driver;
    private final ProxyHandler handler;
    private final Engine engine;
    private final ClientAdapter adapter;

    /** The upstream's response head, from its arrival on ({@code null}: no upstream response yet). */
    private HttpResponse upstreamResponse;
    /** Whether the upstream keeps its connection open after this response (read before the head is rewritten). */
    private boolean upstreamKeepAlive;

    private ArrayDeque<HttpContent> heldResponseContent;
    /** The upstream switched to WebSocket: its connection belongs to this tunnel from the 101 on. */
    private Tunnel tunnel;
    /** Inside an upstream read (its read-complete flushes and asks for more). */
    private boolean inUpstreamRead;
    /** The client connection is not writable: upstream reads wait for it. */
    private boolean upstreamReadPaused;

    private long lastUpstreamActivity;

    /**
     * HTTP/1.1 client: the response head, ready for the client but not written yet because it was decoded within an
     * upstream read whose next message may be the whole body. Written with that body as one message (one buffer, one
     * write), or alone before any other part and at the end of the read.
     */
    private HttpResponse pendingHead;

    ResponseRelay(ExchangeDriver driver, ProxyHandler handler, Engine engine, ClientAdapter adapter) {
        this.driver = driver;
        this.handler = handler;
        this.engine = engine;
        this.adapter = adapter;
    }

    /** Whether the upstream's response head arrived. */
    boolean started() {
        return upstreamResponse != null;
    }

    boolean upstreamKeepAlive() {
        return upstreamKeepAlive;
    }

    boolean readPaused() {
        return upstreamReadPaused;
    }

    long lastUpstreamActivity() {
        return lastUpstreamActivity;
    }

    /** The request head went upstream: the response timeout runs from now. */
    long requestSent() {
        lastUpstreamActivity = handler.now();
        return lastUpstreamActivity;
    }

    private ChannelHandlerContext ctx() {
        return handler.ctx();
    }

    // ------------------------------------------------------------------ upstream reports

    @Override
    public void onUpstreamMessage(HttpObject msg) {
        inUpstreamRead = true;
        lastUpstreamActivity = handler.now();
        if (driver.current() == null) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpResponse response) {
            if (response.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                driver.responder()
                        .upstreamFailed(
                                ProxyError.UPSTREAM_RESET,
                                response.decoderResult().cause(),
                                "invalid response");
                return;
            }
            int code = response.status().code();
            if (code >= 200 || code == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                driver.upstreamResponded(code);
                if (driver.retryOnStatus(code)) {
                    ReferenceCountUtil.release(msg);
                    return;
                }
            }
            if (code == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                onSwitchingProtocols(response);
                return;
            }
            if (code < 200) {
                // 100 Continue (we never forward Expect) or 103 Early Hints: not relayed.
                ReferenceCountUtil.release(msg);
                return;
            }
            if (!onResponseHead(response)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpContent content) {
                onResponseContent(content);
            }
        } else if (msg instanceof HttpContent content) {
            if (content.decoderResult().isFailure()) {
                content.release();
                driver.responder()
                        .upstreamFailed(
                                ProxyError.UPSTREAM_RESET,
                                content.decoderResult().cause(),
                                "invalid response body");
                return;
            }
            onResponseContent(content);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * A {@code 101}: the WebSocket upgrade this exchange asked for, or an invalid response. On an upgrade the upstream
     * connection leaves the pool for a {@link Tunnel} at once (so that no byte after the 101 is decoded as HTTP), the
     * 101 goes through the RESPONSE hooks like any head, and the tunnel starts once it is written.
     */
    private void onSwitchingProtocols(HttpResponse response) {
        DefaultExchange ex = driver.current();
        boolean webSocket = driver.webSocket();
        if (!webSocket || !WebSocketUpgrade.accepted(response, ex.request)) {
            ReferenceCountUtil.release(response);
            driver.responder()
                    .upstreamFailed(
                            ProxyError.UPSTREAM_RESET,
                            null,
                            webSocket
                                    ? "invalid WebSocket handshake response (Upgrade or Sec-WebSocket-Accept)"
                                    : "101 to a request that did not ask for an upgrade");
            return;
        }
        tunnel = Tunnel.takeUpstream(
                driver.connection().channel,
                (fromClient, fromUpstream, error) -> driver.tunnelClosed(ex, fromClient, fromUpstream, error),
                engine.limits().idleTimeout().toNanos());
        if (!onResponseHead(response)) {
            ReferenceCountUtil.release(response);
        }
    }

    /** Returns false (the caller still owns {@code response}) when the exchange cannot take a response now. */
    private boolean onResponseHead(HttpResponse response) {
        if (!driver.moveTo(RESPONSE_HOOKS)) {
            return false;
        }
        DefaultExchange ex = driver.current();
        upstreamResponse = response;
        upstreamKeepAlive = HttpUtil.isKeepAlive(response);
        ex.upstreamHeadersNanos = handler.now() - ex.startNanos;
        ex.response = response;
        HeaderRules.Framing framing =
                HeaderRules.prepareClientResponse(response, ex.request.method(), ex.request.protocolVersion());
        if (tunnel != null) {
            WebSocketUpgrade.keepUpgradeFields(response.headers());
        }
        if (framing == HeaderRules.Framing.CLOSE) {
            driver.noKeepAlive();
        }
        ex.phase = Phase.RESPONSE;
        if (!HookRunner.any(Phase.RESPONSE, driver.globalHooks(), driver.routeHooks())) {
            writeResponseHead();
            return true;
        }
        HookRunner.run(Phase.RESPONSE, driver.globalHooks(), driver.routeHooks(), ex, new HookRunner.Continuation() {
            @Override
            public void proceed() {
                writeResponseHead();
            }

            @Override
            public void respond(HookResult.Respond r) {
                driver.releaseUpstream(false);
                driver.responder().send(r.response());
            }

            @Override
            public void fail(Hook hook, Throwable cause) {
                driver.responder().hookFailed(hook, cause);
            }

            @Override
            public boolean abandoned() {
                // Also when the upstream failed meanwhile: the exchange answered with an error already.
                return driver.current() != ex || driver.state() != RESPONSE_HOOKS;
            }
        });
        return true;
    }

    private void writeResponseHead() {
        HttpResponse response = upstreamResponse;
        if (!driver.requestComplete() && driver.framing().bodyExpected()) {
            // The upstream answered before the whole body arrived: the rest of it cannot be framed for reuse.
            driver.noKeepAlive();
        }
        if (tunnel != null) {
            startTunnel(response);
            return;
        }
        if (!driver.moveTo(RELAYING)) {
            return;
        }
        driver.responseHeadWritten(response);
        if (inUpstreamRead && !adapter.http2() && heldResponseContent == null) {
            // The body (or its end) usually follows in this read: relayResponseContent writes both at once.
            pendingHead = response;
            return;
        }
        ctx().write(response, ctx().voidPromise());
        ArrayDeque<HttpContent> held = heldResponseContent;
        heldResponseContent = null;
        HttpContent c;
        while (held != null && (c = held.pollFirst()) != null) {
            relayResponseContent(c);
        }
        if (driver.state() == RELAYING && !inUpstreamRead) {
            // The hooks finished outside an upstream read: flush and read on, as onUpstreamReadComplete would.
            ctx().flush();
            UpstreamConnection conn = driver.connection();
            if (upstreamReadPaused && ctx().channel().isWritable() && conn != null) {
                upstreamReadPaused = false;
                conn.channel.read();
            }
        }
    }

    /**
     * Writes the {@code 101} (HTTP/2: the {@code 200} the codec makes of it) and hands both connections to the tunnel.
     * The exchange ends when the tunnel closes.
     */
    private void startTunnel(HttpResponse response) {
        if (!driver.moveTo(TUNNEL)) {
            return;
        }
        driver.current().status = adapter.tunnelStatus(response);
        driver.markResponseStarted();
        ctx().write(response, ctx().voidPromise());
        // The connection is the tunnel's now; never back to the pool.
        driver.detachConnection();
        Tunnel t = tunnel;
        tunnel = null;
        t.start(ctx(), adapter.http2());
    }

    private void onResponseContent(HttpContent content) {
        ExchangeState state = driver.state();
        if (state == RESPONSE_HOOKS) {
            // At most one read's worth: reads stop until the RESPONSE hooks are done.
            if (heldResponseContent == null) {
                heldResponseContent = new ArrayDeque<>(4);
            }
            heldResponseContent.addLast(content);
            return;
        }
        if (state != RELAYING) {
            content.release();
            return;
        }
        relayResponseContent(content);
    }

    private void relayResponseContent(HttpContent content) {
        driver.current().responseBodyBytes += content.content().readableBytes();
        if (content instanceof LastHttpContent last) {
            if (!driver.moveTo(FINISHING)) {
                pendingHead = null;
                content.release();
                return;
            }
            HttpResponse head = pendingHead;
            if (head != null) {
                pendingHead = null;
                if (last.content().readableBytes() <= MERGED_BODY_MAX && !HttpUtil.isTransferEncodingChunked(head)) {
                    // Head and whole body in one message: the encoder puts a small body into the head's buffer.
                    adapter.writeLastPart(
                            new DefaultFullHttpResponse(
                                    head.protocolVersion(),
                                    head.status(),
                                    last.content(),
                                    head.headers(),
                                    last.trailingHeaders()),
                            driver.requestComplete());
                    driver.maybeFinish();
                    return;
                }
                ctx().write(head, ctx().voidPromise());
            }
            adapter.writeLastPart(content, driver.requestComplete());
            driver.maybeFinish();
        } else {
            writePendingHead();
            ctx().write(content, ctx().voidPromise());
        }
    }

    /** Writes a response head held back for its body (see {@link #pendingHead}). */
    private void writePendingHead() {
        HttpResponse head = pendingHead;
        if (head != null) {
            pendingHead = null;
            ctx().write(head, ctx().voidPromise());
        }
    }

    @Override
    public void onUpstreamReadComplete() {
        inUpstreamRead = false;
        if (driver.current() == null || driver.responseComplete()) {
            pendingHead = null;
            return;
        }
        writePendingHead();
        if (driver.responseStarted()) {
            ctx().flush();
        }
        UpstreamConnection conn = driver.connection();
        if (conn == null) {
            return;
        }
        if (upstreamResponse == null
                || driver.state() != RESPONSE_HOOKS && ctx().channel().isWritable()) {
            conn.channel.read();
        } else {
            upstreamReadPaused = true;
        }
    }

    @Override
    public void onUpstreamInactive() {
        DefaultExchange ex = driver.current();
        if (ex == null || driver.responseComplete()) {
            return;
        }
        UpstreamConnection dead = driver.detachConnection();
        if (upstreamResponse == null && driver.mayRetryStale(dead)) {
            // A kept-alive connection the upstream had closed just as we reused it: try once on a fresh one.
            driver.retryStale();
            return;
        }
        driver.responder().upstreamFailed(ProxyError.UPSTREAM_RESET, null, "upstream closed the connection");
    }

    @Override
    public void onUpstreamWritabilityChanged(boolean writable) {
        driver.upstreamWritabilityChanged(writable);
    }

    /** The client connection can take more: resume reading a paused upstream. */
    void clientWritable() {
        UpstreamConnection conn = driver.connection();
        if (upstreamReadPaused && conn != null) {
            upstreamReadPaused = false;
            lastUpstreamActivity = handler.now();
            conn.channel.read();
        }
    }

    // ------------------------------------------------------------------ end

    /**
     * The exchange lets go of its upstream connection: drops held body parts and a tunnel that never started. Returns
     * whether the connection may go back to the pool (no tunnel took it).
     */
    boolean release() {
        boolean poolable = tunnel == null;
        pendingHead = null;
        tunnel = null;
        if (heldResponseContent != null) {
            HttpContent held;
            while ((held = heldResponseContent.pollFirst()) != null) {
                held.release();
            }
        }
        return poolable;
    }

    /** Forgets the finished exchange. */
    void reset() {
        upstreamReadPaused = false;
        upstreamResponse = null;
        upstreamKeepAlive = false;
        pendingHead = null;
        heldResponseContent = null;
        inUpstreamRead = false;
        tunnel = null;
    }
}
