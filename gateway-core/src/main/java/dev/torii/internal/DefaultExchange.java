package dev.torii.internal;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.Headers;
import dev.torii.Phase;
import dev.torii.ProxyError;
import dev.torii.Request;
import dev.torii.Response;
import dev.torii.TlsInfo;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.Endpoint;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetSocketAddress;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * The engine's {@link Exchange}: the request head being forwarded, the response head, attributes and the figures for
 * the {@link ExchangeLog}. Confined to the client connection's event loop.
 */
final class DefaultExchange implements Exchange {
    final HttpRequest request;
    final String protocol;
    final String originalUri;
    final InetSocketAddress client;
    final boolean secure;
    /** The client connection's TLS session, or {@code null}. */
    TlsInfo tls;
    /** The listener that accepted the client connection. */
    String listener;

    final EventLoop eventLoop;
    final RoutingTable table;
    final long startNanos;
    final long startEpochMillis = System.currentTimeMillis();

    Phase phase = Phase.REQUEST;
    String host;
    private String path;
    private String query;
    Route route;
    String upstreamName;
    Endpoint endpointOverride;
    HttpResponse response;
    private Map<AttributeKey<?>, Object> attributes;
    private RequestView requestView;
    private ResponseView responseView;

    // Figures for the log.
    InetSocketAddress upstreamAddress;
    int status;
    ProxyError error;
    long requestBodyBytes;
    long responseBodyBytes;
    long upstreamConnectNanos = -1;
    long upstreamHeadersNanos = -1;
    long totalNanos = -1;
    int attempts;
    private ExchangeLog log;

    DefaultExchange(
            long startNanos,
            HttpRequest request,
            String protocol,
            String host,
            InetSocketAddress client,
            boolean secure,
            EventLoop eventLoop,
            RoutingTable table) {
        this.startNanos = startNanos;
        this.request = request;
        this.protocol = protocol;
        this.originalUri = request.uri();
        this.host = host;
        this.client = client;
        this.secure = secure;
        this.eventLoop = eventLoop;
        this.table = table;
        splitUri(request.uri());
    }

    private void splitUri(String uri) {
        int q = uri.indexOf('?');
        path = q < 0 ? uri : uri.substring(0, q);
        query = q < 0 ? null : uri.substring(q + 1);
    }

    String path() {
        return path;
    }

    void checkRequestWritable(String operation) {
        if (phase != Phase.REQUEST && phase != Phase.UPSTREAM) {
            throw new IllegalStateException(
                    operation + " may be called in phases REQUEST, UPSTREAM (now: " + phase + ")");
        }
    }

    void checkResponseWritable(String operation) {
        if (phase != Phase.RESPONSE) {
            throw new IllegalStateException(operation + " may be called in phase RESPONSE (now: " + phase + ")");
        }
    }

    private void checkPhase(String operation, Phase allowed) {
        if (phase != allowed) {
            throw new IllegalStateException(operation + " may be called in phase " + allowed + " (now: " + phase + ")");
        }
    }

    @Override
    public Phase phase() {
        return phase;
    }

    @Override
    public Request request() {
        RequestView v = requestView;
        if (v == null) {
            v = requestView = new RequestView();
        }
        return v;
    }

    @Override
    public Response response() {
        if (phase != Phase.RESPONSE && phase != Phase.LOG) {
            throw new IllegalStateException("response() may be called in phases RESPONSE, LOG (now: " + phase + ")");
        }
        ResponseView v = responseView;
        if (v == null) {
            v = responseView = new ResponseView();
        }
        return v;
    }

    @Override
    public InetSocketAddress clientAddress() {
        return client;
    }

    @Override
    public boolean secure() {
        return secure;
    }

    @Override
    public TlsInfo tls() {
        return tls;
    }

    @Override
    public Route route() {
        return route;
    }

    @Override
    public String upstream() {
        return upstreamName;
    }

    @Override
    public void useUpstream(String name) {
        checkPhase("useUpstream()", Phase.UPSTREAM);
        if (table.upstream(name) == null) {
            throw new IllegalArgumentException("useUpstream: '" + name + "' (expected one of: "
                    + String.join(", ", table.upstreams().keySet()) + ")");
        }
        upstreamName = name;
        endpointOverride = null;
    }

    @Override
    public void useEndpoint(Endpoint endpoint) {
        checkPhase("useEndpoint()", Phase.UPSTREAM);
        endpointOverride = java.util.Objects.requireNonNull(endpoint, "endpoint");
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T get(AttributeKey<T> key) {
        return attributes == null ? null : (T) attributes.get(key);
    }

    @Override
    public <T> void set(AttributeKey<T> key, T value) {
        if (value == null) {
            if (attributes != null) {
                attributes.remove(key);
            }
            return;
        }
        if (!key.type().isInstance(value)) {
            throw new IllegalArgumentException(key.name() + ": "
                    + value.getClass().getName() + " (expected: " + key.type().getName() + ")");
        }
        if (attributes == null) {
            attributes = new IdentityHashMap<>(4);
        }
        attributes.put(key, value);
    }

    @Override
    public ExchangeLog log() {
        if (phase != Phase.LOG) {
            throw new IllegalStateException("log() may be called in phase LOG (now: " + phase + ")");
        }
        ExchangeLog l = log;
        if (l == null) {
            l = log = record();
        }
        return l;
    }

    @Override
    public Executor executor() {
        return eventLoop;
    }

    /** Stops the clock and enters {@link Phase#LOG}; the record is built when someone asks for it. */
    void finish(long nowNanos) {
        if (totalNanos < 0) {
            totalNanos = nowNanos - startNanos;
        }
        phase = Phase.LOG;
    }

    private ExchangeLog record() {
        return new ExchangeLog(
                startEpochMillis,
                client,
                protocol,
                request.method().name(),
                originalUri,
                host,
                route == null ? null : route.name(),
                upstreamName,
                upstreamAddress,
                status,
                error,
                requestBodyBytes,
                responseBodyBytes,
                upstreamConnectNanos,
                upstreamHeadersNanos,
                totalNanos,
                attempts);
    }

    private final class RequestView implements Request {
        private Headers headers;

        @Override
        public String method() {
            return request.method().name();
        }

        @Override
        public String uri() {
            return request.uri();
        }

        @Override
        public String path() {
            return path;
        }

        @Override
        public String query() {
            return query;
        }

        @Override
        public String host() {
            return host;
        }

        @Override
        public String protocol() {
            return protocol;
        }

        @Override
        public Headers headers() {
            Headers h = headers;
            if (h == null) {
                h = headers = new NettyHeaders(request.headers(), DefaultExchange.this, true);
            }
            return h;
        }

        @Override
        public void setPath(String newPath) {
            checkRequestWritable("request.setPath()");
            if (newPath == null || !newPath.startsWith("/")) {
                throw new IllegalArgumentException("setPath: '" + newPath + "' (expected: a path starting with /)");
            }
            path = newPath;
            request.setUri(query == null ? newPath : newPath + "?" + query);
        }

        @Override
        public void setQuery(String newQuery) {
            checkRequestWritable("request.setQuery()");
            query = newQuery;
            request.setUri(newQuery == null ? path : path + "?" + newQuery);
        }
    }

    private final class ResponseView implements Response {
        private Headers headers;

        @Override
        public int status() {
            return response.status().code();
        }

        @Override
        public void setStatus(int code) {
            checkResponseWritable("response.setStatus()");
            if (code < 200 || code > 599) {
                throw new IllegalArgumentException("setStatus: " + code + " (expected: 200-599)");
            }
            response.setStatus(HttpResponseStatus.valueOf(code));
        }

        @Override
        public Headers headers() {
            Headers h = headers;
            if (h == null) {
                h = headers = new NettyHeaders(response.headers(), DefaultExchange.this, false);
            }
            return h;
        }
    }

    @Override
    public String listener() {
        return listener;
    }
}
