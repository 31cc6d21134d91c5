package dev.torii.script.internal;

import dev.torii.Phase;
import dev.torii.dns.DnsCache;
import dev.torii.dns.DnsException;
import dev.torii.dns.SrvTarget;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.graalvm.polyglot.Value;

/**
 * The Java side of {@code torii.dns.resolve(name, { type })}: a lookup in the gateway's {@link DnsCache} (the one
 * upstreams and TCP backends resolve through, so a script's lookups share its entries, stale answers and failure
 * cache), handed back to the script as JSON.
 *
 * <p>A cache hit completes before the call returns, and the Promise is resolved in the same slice: an {@code async}
 * hook whose names are cached never leaves its event loop's stack. A miss resolves it in a later slice of the same call
 * on the same event loop ({@link AsyncCall#resume}). A failure rejects it with an {@code Error} whose {@code code} is
 * the {@link DnsException.Reason} ({@code NAME_NOT_FOUND}, {@code NO_DATA}, {@code TIMEOUT}, {@code UPSTREAM_FAILED},
 * {@code OVERLOADED}, {@code INVALID_NAME}, {@code CLOSED}), or {@code NO_CACHE} when the gateway has no DNS cache.
 * The cache bounds every lookup (attempts times the query timeout), so the Promise always settles.
 *
 * <p>Stateless; called on the event loop of the call.
 */
final class DnsBridge {
    /** Where {@code torii.dns.resolve} may be called: the phases that can still choose where to go. */
    static final Set<Phase> PHASES = EnumSet.of(Phase.REQUEST, Phase.UPSTREAM, Phase.CONNECT);

    private DnsBridge() {}

    static void resolve(ThreadContext tc, String name, String type, Value fulfil, Value reject) {
        CompletableFuture<String> f = lookup(tc.manager.dnsCache(), name, type);
        if (f.isDone()) {
            deliver(f, name, type, fulfil, reject, (callback, args) -> callback.execute(args));
            return;
        }
        AsyncCall call = tc.manager.currentCall(tc);
        f.whenComplete((json, error) -> deliver(f, name, type, fulfil, reject, call::resume));
    }

    private interface Delivery {
        void call(Value callback, Object... args);
    }

    private static void deliver(
            CompletableFuture<String> f, String name, String type, Value fulfil, Value reject, Delivery d) {
        String json;
        try {
            json = f.join();
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            Throwable cause = e;
            while ((cause instanceof CompletionException || cause instanceof java.util.concurrent.ExecutionException)
                    && cause.getCause() != null) {
                cause = cause.getCause();
            }
            String code = cause instanceof DnsException de ? de.reason().name() : "UPSTREAM_FAILED";
            String message =
                    cause instanceof DnsException || cause instanceof NoCache ? cause.getMessage() : cause.toString();
            if (cause instanceof NoCache) {
                code = "NO_CACHE";
            }
            d.call(reject, code, "torii.dns.resolve(\"" + name + "\", " + type + "): " + message);
            return;
        }
        d.call(fulfil, json);
    }

    private static CompletableFuture<String> lookup(DnsCache cache, String name, String type) {
        if (cache == null) {
            return CompletableFuture.failedFuture(new NoCache());
        }
        return switch (type) {
            case "A" -> cache.resolve(name).thenApply(a -> addresses(name, a, Inet4Address.class, "A"));
            case "AAAA" -> cache.resolve(name).thenApply(a -> addresses(name, a, Inet6Address.class, "AAAA"));
            case "SRV" -> cache.resolveSrv(name).thenApply(DnsBridge::services);
            case "TXT" -> cache.resolveTxt(name).thenApply(Json::write);
            default ->
                CompletableFuture.failedFuture(
                        new IllegalArgumentException("type: " + type + " (expected: A, AAAA, SRV or TXT)"));
        };
    }

    /** The addresses of one family as a JSON array of strings; none is NO_DATA, as a lookup of that type alone. */
    private static String addresses(
            String name, List<InetAddress> all, Class<? extends InetAddress> family, String type) {
        List<String> out = new ArrayList<>(all.size());
        for (InetAddress a : all) {
            if (family.isInstance(a)) {
                out.add(a.getHostAddress());
            }
        }
        if (out.isEmpty()) {
            throw new CompletionException(
                    new DnsException(DnsException.Reason.NO_DATA, name + " has no " + type + " record"));
        }
        return Json.write(out);
    }

    private static String services(List<SrvTarget> targets) {
        List<Map<String, Object>> out = new ArrayList<>(targets.size());
        for (SrvTarget t : targets) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("priority", t.priority());
            m.put("weight", t.weight());
            m.put("port", t.port());
            m.put("target", t.target());
            out.add(m);
        }
        return Json.write(out);
    }

    /** The gateway was built without a DNS cache. */
    private static final class NoCache extends Exception {
        NoCache() {
            super("the gateway has no DNS cache (expected: a dns: section in the configuration, or"
                    + " ScriptRuntime.Builder.dnsCache)");
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
    }
}
