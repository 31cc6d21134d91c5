package dev.torii.script.internal;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.Headers;
import dev.torii.LocalResponse;
import dev.torii.Phase;
import dev.torii.upstream.Endpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * The Java side of the {@code ex} object one phase call sees. The prelude keeps it in a private field of the JS
 * {@code Exchange} wrapper, which turns these flat methods into the documented API. Each method checks the phases
 * where its API function may be called (against the phase being run, so a test exchange behaves like the engine's)
 * and that the call has not returned yet: a script that keeps {@code ex} in a variable cannot touch a later exchange
 * through it.
 *
 * <p>Confined to the event loop running the call.
 */
public final class JsExchange {
    /** Per-exchange variables ({@code ex.vars}): a JS object of the context that created it. */
    static final AttributeKey<Vars> VARS = AttributeKey.of("ex.vars", Vars.class);

    /** {@code ex.vars} and the context it lives in. */
    record Vars(ThreadContext owner, Value object) {}

    private final Exchange ex;
    private final Phase phase;
    private final ThreadContext context;
    private final HookSpec spec;
    private final RateLimiters limiters;
    private boolean done;

    JsExchange(Exchange ex, Phase phase, ThreadContext context, HookSpec spec, RateLimiters limiters) {
        this.ex = ex;
        this.phase = phase;
        this.context = context;
        this.spec = spec;
        this.limiters = limiters;
    }

    /** Ends the call: from now on every method throws. */
    void finish() {
        done = true;
    }

    private void check(String function, Set<Phase> allowed) {
        if (done) {
            throw new IllegalStateException(function + ": this ex belongs to a " + HookSpec.functionName(phase)
                    + " call that has returned (expected: use ex only during the call it was passed to)");
        }
        Phases.check(function, allowed, phase);
    }

    private Headers headers(int side, String function, boolean write) {
        if (side == 0) {
            check("ex.request.headers." + function + "()", write ? Phases.REQUEST_UPSTREAM : Phases.ALL);
            return ex.request().headers();
        }
        check("ex.response.headers." + function + "()", write ? Phases.RESPONSE : Phases.RESPONSE_LOG);
        return ex.response().headers();
    }

    @HostAccess.Export
    public String phase() {
        check("ex.phase", Phases.ALL);
        return phase.name().toLowerCase(java.util.Locale.ROOT);
    }

    @HostAccess.Export
    public String method() {
        check("ex.request.method", Phases.ALL);
        return ex.request().method();
    }

    @HostAccess.Export
    public String uri() {
        check("ex.request.uri", Phases.ALL);
        return ex.request().uri();
    }

    @HostAccess.Export
    public String path() {
        check("ex.request.path", Phases.ALL);
        return ex.request().path();
    }

    @HostAccess.Export
    public String query() {
        check("ex.request.query", Phases.ALL);
        return ex.request().query();
    }

    @HostAccess.Export
    public String host() {
        check("ex.request.host", Phases.ALL);
        return ex.request().host();
    }

    @HostAccess.Export
    public String protocol() {
        check("ex.request.protocol", Phases.ALL);
        return ex.request().protocol();
    }

    @HostAccess.Export
    public void setPath(String path) {
        check("ex.request.setPath()", Phases.REQUEST_UPSTREAM);
        if (path.isEmpty() || path.charAt(0) != '/' || path.chars().anyMatch(c -> c <= ' ' || c == 0x7f || c == '?')) {
            throw new IllegalArgumentException("ex.request.setPath: '" + path
                    + "' (expected: starts with '/', no spaces, control characters or '?'; use setQuery)");
        }
        ex.request().setPath(path);
    }

    @HostAccess.Export
    public void setQuery(String query) {
        check("ex.request.setQuery()", Phases.REQUEST_UPSTREAM);
        if (query != null && query.chars().anyMatch(c -> c <= ' ' || c == 0x7f || c == '#')) {
            throw new IllegalArgumentException(
                    "ex.request.setQuery: '" + query + "' (expected: no spaces, control characters or '#')");
        }
        ex.request().setQuery(query);
    }

    @HostAccess.Export
    public String headerGet(int side, String name) {
        return headers(side, "get", false).get(name);
    }

    @HostAccess.Export
    public String headerAll(int side, String name) {
        return String.join("\n", headers(side, "getAll", false).getAll(name));
    }

    @HostAccess.Export
    public boolean headerHas(int side, String name) {
        return headers(side, "has", false).contains(name);
    }

    @HostAccess.Export
    public String headerNames(int side) {
        return String.join("\n", headers(side, "names", false).names());
    }

    @HostAccess.Export
    public void headerSet(int side, String name, String value) {
        Headers h = headers(side, "set", true);
        checkHeader(side, "set", name, value);
        h.set(name, value);
    }

    @HostAccess.Export
    public void headerAdd(int side, String name, String value) {
        Headers h = headers(side, "add", true);
        checkHeader(side, "add", name, value);
        h.add(name, value);
    }

    @HostAccess.Export
    public boolean headerRemove(int side, String name) {
        return headers(side, "remove", true).remove(name);
    }

    private static void checkHeader(int side, String function, String name, String value) {
        String where = side == 0 ? "ex.request.headers." : "ex.response.headers.";
        if (name.isEmpty() || !name.chars().allMatch(JsExchange::isTokenChar)) {
            throw new IllegalArgumentException(
                    where + function + " name: '" + name + "' (expected: an HTTP token such as x-request-id)");
        }
        if (value.chars().anyMatch(c -> (c < ' ' && c != '\t') || c == 0x7f)) {
            throw new IllegalArgumentException(where + function + " value of " + name
                    + ": contains a control character (expected: visible characters, spaces and tabs)");
        }
    }

    private static boolean isTokenChar(int c) {
        return c > ' ' && c < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0;
    }

    /** Throws outside RESPONSE and LOG, so that {@code ex.response} itself reports the phase rule. */
    @HostAccess.Export
    public void checkResponse() {
        check("ex.response", Phases.RESPONSE_LOG);
    }

    @HostAccess.Export
    public int status() {
        check("ex.response.status", Phases.RESPONSE_LOG);
        return ex.response().status();
    }

    @HostAccess.Export
    public void setStatus(double status) {
        check("ex.response.status =", Phases.RESPONSE);
        if (status != Math.rint(status) || status < 200 || status > 599) {
            throw new IllegalArgumentException("ex.response.status: " + status + " (expected: an integer 200-599)");
        }
        ex.response().setStatus((int) status);
    }

    @HostAccess.Export
    public String clientIp() {
        check("ex.client", Phases.ALL);
        var a = ex.clientAddress();
        return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    }

    @HostAccess.Export
    public int clientPort() {
        check("ex.client", Phases.ALL);
        return ex.clientAddress().getPort();
    }

    @HostAccess.Export
    public boolean secure() {
        check("ex.secure", Phases.ALL);
        return ex.secure();
    }

    /** One field of the TLS session (0 version, 1 cipher, 2 SNI, 3 ALPN), or {@code null} in clear text. */
    @HostAccess.Export
    public String tls(int field) {
        check("ex.tls", Phases.ALL);
        var t = ex.tls();
        if (t == null) {
            return null;
        }
        return switch (field) {
            case 0 -> t.protocol();
            case 1 -> t.cipherSuite();
            case 2 -> t.serverName();
            default -> t.applicationProtocol();
        };
    }

    @HostAccess.Export
    public String route() {
        check("ex.route", Phases.ALL);
        return ex.route() == null ? null : ex.route().name();
    }

    @HostAccess.Export
    public String upstream() {
        check("ex.upstream", Phases.ALL);
        return ex.upstream();
    }

    @HostAccess.Export
    public Value vars() {
        check("ex.vars", Phases.ALL);
        Vars v = ex.get(VARS);
        // After a runaway call the context was replaced; the old context's objects are gone with it.
        return v != null && v.owner() == context ? v.object() : null;
    }

    @HostAccess.Export
    public void setVars(Value vars) {
        check("ex.vars", Phases.ALL);
        ex.set(VARS, new Vars(context, vars));
    }

    @HostAccess.Export
    public String logJson() {
        check("ex.log", Phases.LOG);
        ExchangeLog l = ex.log();
        var m = new java.util.LinkedHashMap<String, Object>();
        m.put("status", l.status());
        m.put("error", l.error() == null ? null : l.error().name());
        m.put("method", l.method());
        m.put("uri", l.uri());
        m.put("host", l.host());
        m.put("route", l.route());
        m.put("upstream", l.upstream());
        m.put(
                "upstreamAddress",
                l.upstreamAddress() == null
                        ? null
                        : l.upstreamAddress().getHostString() + ":"
                                + l.upstreamAddress().getPort());
        m.put("requestBodyBytes", l.requestBodyBytes());
        m.put("responseBodyBytes", l.responseBodyBytes());
        m.put("durationMs", l.totalNanos() < 0 ? null : l.totalNanos() / 1e6);
        m.put("upstreamHeadersMs", l.upstreamHeadersNanos() < 0 ? null : l.upstreamHeadersNanos() / 1e6);
        m.put("attempts", l.attempts());
        m.put("startEpochMillis", l.startEpochMillis());
        return Json.write(m);
    }

    @HostAccess.Export
    public Reply respond(int status, String body, Value headers) {
        check("ex.respond()", Phases.ANSWERING);
        if (status < 200 || status > 599) {
            throw new IllegalArgumentException("ex.respond status: " + status + " (expected: 200-599)");
        }
        Map<String, String> extra = new java.util.LinkedHashMap<>();
        if (headers != null && !headers.isNull()) {
            if (!headers.hasMembers()) {
                throw new IllegalArgumentException(
                        "ex.respond headers: " + headers + " (expected: an object of name: value)");
            }
            for (String name : headers.getMemberKeys()) {
                Value v = headers.getMember(name);
                String value = v.isString() ? v.asString() : v.toString();
                checkHeader(1, "respond", name, value);
                extra.put(name, value);
            }
        }
        return new Reply(this, LocalResponse.text(status, body, extra));
    }

    @HostAccess.Export
    public Reply redirect(String url, int status) {
        check("ex.redirect()", Phases.ANSWERING);
        if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
            throw new IllegalArgumentException(
                    "ex.redirect status: " + status + " (expected: 301, 302, 303, 307 or 308)");
        }
        if (url.isEmpty() || url.chars().anyMatch(c -> c < ' ' || c == 0x7f)) {
            throw new IllegalArgumentException(
                    "ex.redirect url: '" + url + "' (expected: a URL or path without control characters)");
        }
        List<Map.Entry<String, String>> h = new ArrayList<>(2);
        h.add(Map.entry("location", url));
        h.add(Map.entry("content-type", "text/plain; charset=utf-8"));
        return new Reply(this, new LocalResponse(status, h, new byte[0]));
    }

    @HostAccess.Export
    public void useUpstream(String name) {
        check("ex.useUpstream()", Phases.UPSTREAM);
        ex.useUpstream(name);
    }

    @HostAccess.Export
    public void useEndpoint(String hostPort) {
        check("ex.useEndpoint()", Phases.UPSTREAM);
        ex.useEndpoint(Endpoint.parse(hostPort));
    }

    @HostAccess.Export
    public boolean limit(String key, double rate, String per, double burst) {
        check("ex.limit()", Phases.REQUEST_UPSTREAM);
        long perNanos = context.durations.nanos("ex.limit per", per);
        return limiters.tryTake(spec.plugin().name(), key, rate, perNanos, burst);
    }

    @HostAccess.Export
    public boolean limitPolicy(String key, String policy) {
        check("ex.limit()", Phases.REQUEST_UPSTREAM);
        return limiters.tryTakeNamed("ex.limit", key, policy);
    }

    /** The value {@code ex.respond} and {@code ex.redirect} return; a phase function returns it to answer. */
    public static final class Reply {
        final JsExchange owner;
        final LocalResponse response;

        Reply(JsExchange owner, LocalResponse response) {
            this.owner = owner;
            this.response = response;
        }

        /** The response to send. */
        public LocalResponse response() {
            return response;
        }
    }

    /** Whether {@code reply} was made by this call. */
    boolean owns(Reply reply) {
        return reply.owner == this;
    }
}
