package dev.torii.tracing;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.Headers;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.ProxyError;
import dev.torii.UpstreamAttemptListener;
import dev.torii.log.AccessLog;
import dev.torii.upstream.Endpoint;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * OpenTelemetry tracing as a hook: a server span per exchange and a client span per upstream attempt, with the W3C
 * {@code traceparent}/{@code tracestate} of the client continued and sent on upstream.
 *
 * <pre>
 * REQUEST   extract the client's context from the request headers; start the SERVER span (child of it)
 * attempt   per upstream attempt (the first try and each retry): a CLIENT span (child of the server span) with
 *           the attempt number ({@code torii.attempt}), the endpoint, and the status or error it ended with; its
 *           context goes into that attempt's request headers
 * LOG       end the server span with the ExchangeLog's status, error and route; the trace id goes to the access log
 * </pre>
 *
 * A request answered before the REQUEST hooks of this hook ran (by maintenance mode, say) still gets its server span,
 * made in LOG from the record's start time. The attempts come through {@link UpstreamAttemptListener}, which the
 * engine calls for global hooks. Add it as the first global hook so that its REQUEST step runs before any hook that
 * may answer.
 *
 * <p>Which spans are kept is the {@link OpenTelemetry} instance's business (its sampler and exporter): with the no-op
 * instance this hook costs a few allocations per exchange. Thread-safe (no state besides the exchange's attributes).
 */
public final class TracingHook implements Hook, UpstreamAttemptListener {
    private static final AttributeKey<Span> SERVER = AttributeKey.of("otelServerSpan", Span.class);
    private static final AttributeKey<Span> CLIENT = AttributeKey.of("otelClientSpan", Span.class);
    /** The attempt number (1 for the first) on each CLIENT span. */
    static final String ATTEMPT = "torii.attempt";

    private static final TextMapGetter<Headers> GETTER = new TextMapGetter<>() {
        // Deprecated in OpenTelemetry 1.68 but still what propagators that scan names (Jaeger's uberctx-*, OT's
        // baggage) call; an embedder may configure one.
        @SuppressWarnings("deprecation")
        @Override
        public Iterable<String> keys(Headers carrier) {
            return carrier.names();
        }

        @Override
        public String get(Headers carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };
    private static final TextMapSetter<Headers> SETTER = (carrier, key, value) -> carrier.set(key, value);

    private final Tracer tracer;
    private final TextMapPropagator propagator;

    /** Spans made with {@code openTelemetry}'s tracer, propagated with its text-map propagator (W3C by default). */
    public TracingHook(OpenTelemetry openTelemetry) {
        Objects.requireNonNull(openTelemetry, "openTelemetry");
        this.tracer = openTelemetry.getTracer("dev.torii");
        this.propagator = openTelemetry.getPropagators().getTextMapPropagator();
    }

    @Override
    public String name() {
        return "tracing";
    }

    @Override
    public HookResult onRequest(Exchange exchange) {
        Context parent = propagator.extract(Context.root(), exchange.request().headers(), GETTER);
        Span server = tracer.spanBuilder(exchange.request().method())
                .setParent(parent)
                .setSpanKind(SpanKind.SERVER)
                .setAttribute("http.request.method", exchange.request().method())
                .setAttribute("url.path", exchange.request().path())
                .setAttribute(
                        "network.protocol.version",
                        protocolVersion(exchange.request().protocol()))
                .startSpan();
        String host = exchange.request().host();
        if (host != null) {
            server.setAttribute("server.address", host);
        }
        InetSocketAddress client = exchange.clientAddress();
        if (client != null && client.getAddress() != null) {
            server.setAttribute("client.address", client.getAddress().getHostAddress());
        }
        exchange.set(SERVER, server);
        exchange.set(AccessLog.TRACE_ID, server.getSpanContext().getTraceId());
        return HookResult.proceed();
    }

    /**
     * Starts the attempt's CLIENT span (child of the server span) and puts its context in the request headers, so the
     * upstream's parent is this attempt.
     */
    @Override
    public void attemptStarted(Exchange exchange, int attempt, Endpoint endpoint) {
        Span server = exchange.get(SERVER);
        if (server == null) {
            return;
        }
        Span client = tracer.spanBuilder(exchange.request().method())
                .setParent(Context.root().with(server))
                .setSpanKind(SpanKind.CLIENT)
                .setAttribute("http.request.method", exchange.request().method())
                .setAttribute(ATTEMPT, attempt)
                .setAttribute("server.address", endpoint.host())
                .setAttribute("server.port", endpoint.port())
                .setAttribute("torii.endpoint", endpoint.authority())
                .startSpan();
        if (attempt > 1) {
            client.setAttribute("http.request.resend_count", attempt - 1);
        }
        if (exchange.upstream() != null) {
            client.setAttribute("torii.upstream", exchange.upstream());
        }
        exchange.set(CLIENT, client);
        // Replaces whatever traceparent the client (or the previous attempt) put there: the upstream's parent is this
        // attempt.
        propagator.inject(Context.root().with(client), exchange.request().headers(), SETTER);
    }

    /** Ends the attempt's span with the upstream's status, or the error when none came. */
    @Override
    public void attemptEnded(Exchange exchange, int attempt, int status, ProxyError error, InetSocketAddress address) {
        Span client = exchange.get(CLIENT);
        if (client == null) {
            return;
        }
        exchange.set(CLIENT, null);
        if (address != null && address.getAddress() != null) {
            client.setAttribute("network.peer.address", address.getAddress().getHostAddress());
            client.setAttribute("network.peer.port", address.getPort());
        }
        if (status > 0) {
            client.setAttribute("http.response.status_code", status);
            if (status >= 500) {
                client.setAttribute("error.type", String.valueOf(status));
                client.setStatus(StatusCode.ERROR);
            }
        } else if (error != null) {
            client.setAttribute("error.type", error.name());
            client.setStatus(StatusCode.ERROR);
        }
        client.end();
    }

    @Override
    public void onLog(Exchange exchange) {
        ExchangeLog log = exchange.log();
        Span server = exchange.get(SERVER);
        if (server == null) {
            // Answered before this hook's REQUEST step: a span from the record alone.
            server = tracer.spanBuilder(log.method())
                    .setSpanKind(SpanKind.SERVER)
                    .setStartTimestamp(log.startEpochMillis(), TimeUnit.MILLISECONDS)
                    .setAttribute("http.request.method", log.method())
                    .startSpan();
            exchange.set(AccessLog.TRACE_ID, server.getSpanContext().getTraceId());
        }
        if (log.route() != null) {
            server.updateName(log.method() + " " + log.route());
            server.setAttribute("http.route", log.route());
        }
        server.setAttribute("http.response.status_code", log.status());
        if (log.error() != null) {
            server.setAttribute("error.type", log.error().name());
        }
        if (log.status() >= 500) {
            server.setStatus(StatusCode.ERROR);
        }
        Span client = exchange.get(CLIENT);
        if (client != null) {
            // An attempt the engine did not end (it should not happen): it ends with the exchange.
            exchange.set(CLIENT, null);
            if (log.error() != null) {
                client.setAttribute("error.type", log.error().name());
                client.setStatus(StatusCode.ERROR);
            }
            client.end();
        }
        if (log.totalNanos() >= 0 && exchange.get(SERVER) == null) {
            server.end(log.startEpochMillis() * 1_000_000L + log.totalNanos(), TimeUnit.NANOSECONDS);
        } else {
            server.end();
        }
    }

    private static String protocolVersion(String protocol) {
        return protocol != null && protocol.startsWith("HTTP/") ? protocol.substring(5) : String.valueOf(protocol);
    }
}
