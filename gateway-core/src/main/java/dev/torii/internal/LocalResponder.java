package dev.torii.internal;

import static dev.torii.internal.ExchangeState.DISCARDING;
import static dev.torii.internal.ExchangeState.FINISHING;
import static dev.torii.internal.ExchangeState.LOCAL_RESPONSE;

import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.LocalResponse;
import dev.torii.Phase;
import dev.torii.ProxyError;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How an exchange ends when the proxy answers it itself or gives up on it: a hook's response or a rendered
 * {@link ProxyError} runs through the RESPONSE hooks ({@link ExchangeState#LOCAL_RESPONSE}) and is written; a failure
 * after a response head reached the client aborts instead (the connection closes, as no second head can follow).
 *
 * <p>Not thread-safe: confined to the client channel's event loop.
 */
final class LocalResponder {
    private static final Logger log = LoggerFactory.getLogger(LocalResponder.class);

    private final ExchangeDriver driver;
    private final ProxyHandler handler;
    private final Engine engine;
    private final ClientAdapter adapter;

    LocalResponder(ExchangeDriver driver, ProxyHandler handler, Engine engine, ClientAdapter adapter) {
        this.driver = driver;
        this.handler = handler;
        this.engine = engine;
        this.adapter = adapter;
    }

    /** A full HTTP/1.1 response with {@code local}'s status, headers and body, framed by Content-Length. */
    static FullHttpResponse toNetty(LocalResponse local) {
        var response = new DefaultFullHttpResponse(
                HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(local.status()), Unpooled.wrappedBuffer(local.body()));
        for (var e : local.headers()) {
            response.headers().add(e.getKey(), e.getValue());
        }
        HttpUtil.setContentLength(response, local.body().length);
        return response;
    }

    /**
     * {@code error} rendered by {@code responder} for {@code exchange} (which may be {@code null} before an exchange
     * exists), or a plain text one when the responder throws.
     */
    static LocalResponse render(ErrorResponder responder, ProxyError error, Exchange exchange) {
        try {
            return responder.render(error, exchange);
        } catch (RuntimeException e) {
            if (exchange != null) {
                log.warn("error responder failed for {}", error, e);
            }
            return LocalResponse.text(error.status(), error.status() + " " + error.name() + "\n");
        }
    }

    /** A hook threw or its stage failed: a 500 (not run through the RESPONSE hooks), or an abort. */
    void hookFailed(Hook hook, Throwable cause) {
        DefaultExchange ex = driver.current();
        log.warn(
                "hook {} failed in phase {} for {} {}: {}",
                hook.name(),
                ex.phase,
                ex.request.method(),
                ex.originalUri,
                cause.toString());
        driver.releaseUpstream(false);
        ex.error = ProxyError.HOOK_FAILED;
        if (driver.responseStarted()) {
            abort(ProxyError.HOOK_FAILED, "hook failed after the response started");
        } else if (driver.moveTo(LOCAL_RESPONSE)) {
            write(toNetty(engine.errorResponder().render(ProxyError.HOOK_FAILED, ex)));
        }
    }

    /** A failure on the upstream side: an error response if the client has not seen a head yet, else an abort. */
    void upstreamFailed(ProxyError error, Throwable cause, String detail) {
        if (driver.upstreamAttemptFailed(error)) {
            return;
        }
        driver.releaseUpstream(false);
        if (driver.responseStarted()) {
            abort(error, detail);
        } else {
            fail(error, cause, detail);
        }
    }

    /** Fails the exchange before the response head went out: renders {@code error} through the RESPONSE hooks. */
    void fail(ProxyError error, Throwable cause, String detail) {
        DefaultExchange ex = driver.current();
        if (log.isDebugEnabled()) {
            log.debug(
                    "{} for {} {}: {}{}",
                    error,
                    ex.request.method(),
                    ex.originalUri,
                    detail,
                    cause == null ? "" : " (" + cause + ")");
        }
        driver.releaseUpstream(false);
        ex.error = error;
        LocalResponse response = render(engine.errorResponder(), error, ex);
        ex.phase = Phase.RESPONSE;
        send(response);
    }

    /** Ends an exchange whose response head was sent already: the client connection is closed. */
    void abort(ProxyError error, String detail) {
        DefaultExchange ex = driver.current();
        log.debug("{} for {} {} after the response started: {}", error, ex.request.method(), ex.originalUri, detail);
        ex.error = error;
        driver.releaseUpstream(false);
        driver.noKeepAlive();
        driver.moveToClosed();
        handler.ctx().close();
    }

    /** Sends a local response after running the RESPONSE hooks over it. */
    void send(LocalResponse local) {
        if (!driver.moveTo(LOCAL_RESPONSE)) {
            return;
        }
        DefaultExchange ex = driver.current();
        FullHttpResponse response = toNetty(local);
        ex.response = response;
        ex.phase = Phase.RESPONSE;
        if (!HookRunner.any(Phase.RESPONSE, driver.globalHooks(), driver.routeHooks())) {
            write(response);
            return;
        }
        HookRunner.run(Phase.RESPONSE, driver.globalHooks(), driver.routeHooks(), ex, new HookRunner.Continuation() {
            @Override
            public void proceed() {
                write(response);
            }

            @Override
            public void respond(HookResult.Respond r) {
                response.release();
                write(toNetty(r.response()));
            }

            @Override
            public void fail(Hook hook, Throwable cause) {
                response.release();
                log.warn("hook {} failed in phase RESPONSE: {}", hook.name(), cause.toString());
                ex.error = ProxyError.HOOK_FAILED;
                write(toNetty(engine.errorResponder().render(ProxyError.HOOK_FAILED, ex)));
            }

            @Override
            public boolean abandoned() {
                if (driver.current() != ex || driver.state() != LOCAL_RESPONSE) {
                    response.release();
                    return true;
                }
                return false;
            }
        });
    }

    private void write(FullHttpResponse response) {
        DefaultExchange ex = driver.current();
        boolean requestComplete = driver.requestComplete();
        boolean bodyExpected = driver.framing().bodyExpected();
        if (bodyExpected && !requestComplete) {
            // The body was not read; closing is the only safe way to end the message.
            driver.noKeepAlive();
        }
        ex.response = response;
        ex.status = response.status().code();
        ex.responseBodyBytes =
                ex.request.method() == HttpMethod.HEAD ? 0 : response.content().readableBytes();
        boolean keepAlive = driver.keepAlive() && !handler.closing();
        HeaderRules.setClientConnection(response, keepAlive, ex.request.protocolVersion());
        driver.markResponseStarted();
        // The request has no body but its (empty) end was not read yet: consume it before the next request.
        boolean discard = !requestComplete && !bodyExpected && keepAlive;
        if (!driver.moveTo(discard ? DISCARDING : FINISHING)) {
            response.release();
            return;
        }
        adapter.writeLocalResponse(response);
        if (discard) {
            driver.finishExchange();
            handler.readClient();
            return;
        }
        driver.maybeFinish();
    }
}
