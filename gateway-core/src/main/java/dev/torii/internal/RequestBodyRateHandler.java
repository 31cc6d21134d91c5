package dev.torii.internal;

import dev.torii.LocalResponse;
import dev.torii.MinBodyRate;
import dev.torii.ProxyError;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds request bodies to {@link dev.torii.Limits#minRequestBodyRate()} (slow POST). Sits right after the HTTP/1.1
 * codec of a client connection, or the stream codec of an HTTP/2 stream, and sees the request parts as decoded and the
 * reads the proxy asks for.
 *
 * <p>How the rate is measured: only the time with a read outstanding (the proxy asked the client for more and nothing
 * came yet) counts, so a body held back by backpressure from the upstream never looks slow. Once {@code grace} has
 * passed since the head, every {@code per} the bytes of that window are compared with {@code bytes} times the share of
 * the window spent waiting for the client (when that share is at least half). A trickle below it is refused:
 * {@code 408} through the gateway's {@code ErrorResponder} when no response has started (and the connection, or the
 * HTTP/2 stream, closed), else the connection (HTTP/1.1) or the stream (HTTP/2) reset. Whatever the proxy writes after
 * that is dropped.
 *
 * <p>A request without a body costs no timer: the timer starts at the end of a read that left a body unfinished.
 *
 * <p>Not thread-safe: confined to the channel's event loop.
 */
public final class RequestBodyRateHandler extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(RequestBodyRateHandler.class);
    private static final ClosedChannelException REFUSED = new ClosedChannelException();

    private final Engine engine;
    private final MinBodyRate rate;
    private final boolean http2;

    private ChannelHandlerContext ctx;
    private ScheduledFuture<?> timer;
    /** A request body is being read (head seen, last part not yet). */
    private boolean inBody;

    private long headAt;
    /** The window started (grace is over). */
    private boolean measuring;

    private long windowBytes;
    private long waitedNanos;
    private boolean waiting;
    private long waitingSince;
    private boolean responseStarted;
    private boolean refused;

    private RequestBodyRateHandler(Engine engine, MinBodyRate rate, boolean http2) {
        this.engine = engine;
        this.rate = rate;
        this.http2 = http2;
    }

    /**
     * Adds the handler after {@code codec} in {@code pipeline} when {@code engine}'s limits set a minimum body rate;
     * nothing otherwise.
     *
     * @param http2 whether the pipeline is an HTTP/2 stream's
     */
    public static void addAfter(ChannelPipeline pipeline, String codec, Engine engine, boolean http2) {
        engine.limits()
                .minRequestBodyRate()
                .ifPresent(r -> pipeline.addAfter(codec, "bodyRate", new RequestBodyRateHandler(engine, r, http2)));
    }

    private long now() {
        return ctx.executor().ticker().nanoTime();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancelTimer();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelTimer();
        ctx.fireChannelInactive();
    }

    @Override
    public void read(ChannelHandlerContext ctx) {
        if (inBody && !waiting) {
            waiting = true;
            waitingSince = now();
        }
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest) {
            // A new request on the connection: its body (if any) is measured on its own.
            inBody = !(msg instanceof LastHttpContent);
            headAt = now();
            measuring = false;
            windowBytes = 0;
            waitedNanos = 0;
            waiting = false;
            responseStarted = false;
        } else if (msg instanceof HttpContent content && inBody) {
            if (waiting) {
                waitedNanos += now() - waitingSince;
                waiting = false;
            }
            windowBytes += content.content().readableBytes();
            if (msg instanceof LastHttpContent) {
                inBody = false;
                cancelTimer();
            }
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (inBody && timer == null && !refused) {
            long first = headAt + rate.grace().toNanos();
            schedule(Math.max(0, first - now()));
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            promise.tryFailure(REFUSED);
            return;
        }
        if (msg instanceof HttpResponse r && r.status().codeClass() != HttpStatusClass.INFORMATIONAL) {
            responseStarted = true;
        }
        ctx.write(msg, promise);
    }

    private void schedule(long delayNanos) {
        timer = ctx.executor().schedule(this::onTimer, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void onTimer() {
        timer = null;
        if (!inBody || refused || !ctx.channel().isActive()) {
            return;
        }
        long now = now();
        long per = rate.per().toNanos();
        if (measuring) {
            long waited = waitedNanos + (waiting ? now - waitingSince : 0);
            // Judged only when the window was mostly spent waiting for the client, at its share of the rate.
            if (waited >= per / 2 && (double) windowBytes * per < (double) rate.bytes() * waited) {
                refuse(waited);
                return;
            }
        }
        measuring = true;
        windowBytes = 0;
        waitedNanos = 0;
        if (waiting) {
            waitingSince = now;
        }
        schedule(per);
    }

    private void refuse(long waited) {
        engine.countSlowRequestBody();
        if (log.isDebugEnabled()) {
            log.debug(
                    "request body from {} too slow: {} bytes in {} ms of waiting (expected: {} per {})",
                    ctx.channel().remoteAddress(),
                    windowBytes,
                    waited / 1_000_000,
                    rate.bytes(),
                    rate.per());
        }
        boolean started = responseStarted;
        if (!started) {
            LocalResponse local = LocalResponder.render(engine.errorResponder(), ProxyError.REQUEST_TIMEOUT, null);
            FullHttpResponse response = LocalResponder.toNetty(local);
            if (!http2) {
                response.headers().set(HttpHeaderNames.CONNECTION, "close");
            }
            ctx.writeAndFlush(response).addListener(f -> ctx.channel().close());
        } else {
            // A second response cannot follow the one under way: the connection (HTTP/1.1) or stream (h2) is reset.
            ctx.channel().close();
        }
        refused = true;
        inBody = false;
    }
}
