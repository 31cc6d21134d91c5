package dev.torii.internal;

import dev.torii.Headers;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@link Headers} over Netty's {@link HttpHeaders}. Changes go straight to the underlying headers, after asking the
 * exchange whether the current phase allows them.
 */
final class NettyHeaders implements Headers {
    private final HttpHeaders headers;
    private final DefaultExchange exchange;
    private final boolean request;

    NettyHeaders(HttpHeaders headers, DefaultExchange exchange, boolean request) {
        this.headers = headers;
        this.exchange = exchange;
        this.request = request;
    }

    private void checkWritable(String operation) {
        if (request) {
            exchange.checkRequestWritable("request.headers()." + operation);
        } else {
            exchange.checkResponseWritable("response.headers()." + operation);
        }
    }

    @Override
    public String get(String name) {
        return headers.get(name);
    }

    @Override
    public List<String> getAll(String name) {
        return headers.getAll(name);
    }

    @Override
    public boolean contains(String name) {
        return headers.contains(name);
    }

    @Override
    public Headers set(String name, String value) {
        checkWritable("set");
        headers.set(name, value);
        return this;
    }

    @Override
    public Headers add(String name, String value) {
        checkWritable("add");
        headers.add(name, value);
        return this;
    }

    @Override
    public boolean remove(String name) {
        checkWritable("remove");
        boolean present = headers.contains(name);
        headers.remove(name);
        return present;
    }

    @Override
    public Set<String> names() {
        var names = new LinkedHashSet<String>();
        for (Map.Entry<String, String> e : headers) {
            names.add(e.getKey().toLowerCase(Locale.ROOT));
        }
        return names;
    }

    @Override
    public int size() {
        return headers.size();
    }

    @Override
    public String toString() {
        return headers.toString();
    }
}
