package dev.torii.benchmarks;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.Headers;
import dev.torii.Phase;
import dev.torii.Request;
import dev.torii.Response;
import dev.torii.route.Route;
import dev.torii.upstream.Endpoint;
import java.net.InetSocketAddress;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * A minimal {@link Exchange} in {@link Phase#REQUEST} for benchmarking hook dispatch without the engine: a request
 * head, attributes in an identity map, nothing else. Not thread-safe, like the real one.
 */
final class BenchExchange implements Exchange {
    private final BenchRequest request;
    private final InetSocketAddress client = new InetSocketAddress("127.0.0.1", 40000);
    private final Map<AttributeKey<?>, Object> attributes = new IdentityHashMap<>();

    BenchExchange(String method, String host, String uri, Headers headers) {
        this.request = new BenchRequest(method, host, uri, headers);
    }

    @Override
    public Phase phase() {
        return Phase.REQUEST;
    }

    @Override
    public Request request() {
        return request;
    }

    @Override
    public Response response() {
        throw new IllegalStateException("response() in phase REQUEST (allowed: RESPONSE, LOG)");
    }

    @Override
    public InetSocketAddress clientAddress() {
        return client;
    }

    @Override
    public boolean secure() {
        return false;
    }

    @Override
    public Route route() {
        return null;
    }

    @Override
    public String upstream() {
        return null;
    }

    @Override
    public void useUpstream(String upstreamName) {
        throw new IllegalStateException("useUpstream() in phase REQUEST (allowed: UPSTREAM)");
    }

    @Override
    public void useEndpoint(Endpoint endpoint) {
        throw new IllegalStateException("useEndpoint() in phase REQUEST (allowed: UPSTREAM)");
    }

    @Override
    public <T> T get(AttributeKey<T> key) {
        return key.type().cast(attributes.get(key));
    }

    @Override
    public <T> void set(AttributeKey<T> key, T value) {
        if (value == null) {
            attributes.remove(key);
        } else {
            attributes.put(key, key.type().cast(value));
        }
    }

    @Override
    public ExchangeLog log() {
        throw new IllegalStateException("log() in phase REQUEST (allowed: LOG)");
    }

    @Override
    public Executor executor() {
        return Runnable::run;
    }

    private static final class BenchRequest implements Request {
        private final String method;
        private final String host;
        private final Headers headers;
        private String path;
        private String query;

        BenchRequest(String method, String host, String uri, Headers headers) {
            this.method = method;
            this.host = host;
            this.headers = headers;
            int q = uri.indexOf('?');
            this.path = q < 0 ? uri : uri.substring(0, q);
            this.query = q < 0 ? null : uri.substring(q + 1);
        }

        @Override
        public String method() {
            return method;
        }

        @Override
        public String uri() {
            return query == null ? path : path + "?" + query;
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
            return "HTTP/1.1";
        }

        @Override
        public Headers headers() {
            return headers;
        }

        @Override
        public void setPath(String path) {
            this.path = path;
        }

        @Override
        public void setQuery(String query) {
            this.query = query;
        }
    }
}
