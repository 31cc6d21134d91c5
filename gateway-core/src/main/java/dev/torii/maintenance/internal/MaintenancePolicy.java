package dev.torii.maintenance.internal;

import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.HookResult;
import dev.torii.LocalResponse;
import dev.torii.ProxyError;
import dev.torii.internal.Cidr;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the maintenance switch does with a request while it is on: the bypasses (client address blocks, path prefixes,
 * a token in a header, compared in constant time) and the answer (the HTML or JSON page by {@code Accept}, else the
 * error responder's rendering of {@link ProxyError#MAINTENANCE}; {@code Retry-After} and
 * {@code Cache-Control: no-store} added). The switch itself ({@link dev.torii.maintenance.MaintenanceMode}: state,
 * sources, Redis, windows) decides <em>whether</em> maintenance is on; this class decides <em>how</em> a request is
 * treated then. Settings are checked by {@code MaintenanceMode.Builder}.
 *
 * <p>Thread-safe: immutable settings and two counters.
 */
public final class MaintenancePolicy {
    private final byte[] page;
    private final String contentType;
    private final byte[] jsonPage;
    private final Duration retryAfter;
    private final List<String> bypass;
    private final List<Cidr> bypassBlocks;
    private final List<String> bypassPaths;
    private final String bypassHeader;
    private final List<byte[]> bypassTokens;
    private final boolean respond;
    private final LongAdder answered = new LongAdder();
    private final LongAdder bypassed = new LongAdder();

    /**
     * @param page the page's bytes, or null for the error responder's
     * @param contentType the page's media type
     * @param jsonPage the JSON page's bytes, or null for the built-in one
     * @param retryAfter {@code Retry-After}, or null for none
     * @param bypass CIDR blocks whose clients pass
     * @param bypassPaths path prefixes that pass
     * @param bypassHeader the header carrying a bypass token
     * @param bypassTokens the tokens that pass
     * @param respond whether the gateway answers at all (false: the state is for plugins to act on)
     */
    public MaintenancePolicy(
            byte[] page,
            String contentType,
            byte[] jsonPage,
            Duration retryAfter,
            List<String> bypass,
            List<String> bypassPaths,
            String bypassHeader,
            List<String> bypassTokens,
            boolean respond) {
        this.page = page;
        this.contentType = contentType;
        this.jsonPage = jsonPage;
        this.retryAfter = retryAfter;
        this.bypass = List.copyOf(bypass);
        this.bypassBlocks = Cidr.parseAll(this.bypass);
        this.bypassPaths = List.copyOf(bypassPaths);
        this.bypassHeader = bypassHeader;
        this.bypassTokens = bypassTokens.stream()
                .map(t -> t.getBytes(StandardCharsets.UTF_8))
                .toList();
        this.respond = respond;
    }

    /** {@code Retry-After} of the answer, or null. */
    public Duration retryAfter() {
        return retryAfter;
    }

    /** The bypass CIDR blocks, as given. */
    public List<String> bypass() {
        return bypass;
    }

    /** Whether the gateway answers with the page while on. */
    public boolean responds() {
        return respond;
    }

    /** Requests answered with the page since start. */
    public long answered() {
        return answered.sum();
    }

    /** Requests let through by a bypass since start. */
    public long bypassed() {
        return bypassed.sum();
    }

    /** A request met while maintenance applies to it: let through by a bypass, else answered (each counted). */
    public HookResult answer(ErrorResponder responder, Exchange exchange) {
        if (bypassed(exchange)) {
            bypassed.increment();
            return HookResult.proceed();
        }
        answered.increment();
        return HookResult.respond(response(responder, exchange));
    }

    private boolean bypassed(Exchange exchange) {
        if (!bypassBlocks.isEmpty()
                && exchange.clientAddress().getAddress() != null
                && Cidr.anyContains(bypassBlocks, exchange.clientAddress().getAddress())) {
            return true;
        }
        if (!bypassPaths.isEmpty()) {
            String path = exchange.request().path();
            for (int i = 0; i < bypassPaths.size(); i++) {
                if (path.startsWith(bypassPaths.get(i))) {
                    return true;
                }
            }
        }
        if (!bypassTokens.isEmpty()) {
            String token = exchange.request().headers().get(bypassHeader);
            if (token != null) {
                byte[] given = token.getBytes(StandardCharsets.UTF_8);
                boolean match = false;
                for (byte[] t : bypassTokens) {
                    match |= MessageDigest.isEqual(t, given);
                }
                return match;
            }
        }
        return false;
    }

    private LocalResponse response(ErrorResponder responder, Exchange exchange) {
        var headers = new ArrayList<Map.Entry<String, String>>(4);
        byte[] body;
        if (AcceptNegotiation.prefersJson(exchange.request().headers().get("accept"))) {
            headers.add(Map.entry("content-type", "application/json"));
            body = jsonPage != null ? jsonPage : defaultJson();
        } else if (page != null) {
            headers.add(Map.entry("content-type", contentType));
            body = page;
        } else {
            LocalResponse r = responder.render(ProxyError.MAINTENANCE, exchange);
            for (var h : r.headers()) {
                if (!h.getKey().equalsIgnoreCase("retry-after")) {
                    headers.add(h);
                }
            }
            body = r.body();
        }
        if (retryAfter != null) {
            headers.add(Map.entry("retry-after", Long.toString(retryAfter.toSeconds())));
        }
        headers.add(Map.entry("cache-control", "no-store"));
        return new LocalResponse(ProxyError.MAINTENANCE.status(), headers, body);
    }

    private byte[] defaultJson() {
        return ("{\"status\":503,\"error\":\"MAINTENANCE\""
                        + (retryAfter != null ? ",\"retryAfter\":" + retryAfter.toSeconds() : "")
                        + "}\n")
                .getBytes(StandardCharsets.UTF_8);
    }
}
