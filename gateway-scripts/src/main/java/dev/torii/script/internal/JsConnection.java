package dev.torii.script.internal;

import dev.torii.Phase;
import dev.torii.tcp.Connection;
import dev.torii.upstream.Endpoint;
import org.graalvm.polyglot.HostAccess;

/**
 * The Java side of the {@code conn} object an {@code onConnect(conn, cfg)} call sees; the prelude's JS
 * {@code Connection} wrapper keeps it in a private field. Like {@link JsExchange}, every method throws once the call
 * has returned, so a script that keeps {@code conn} cannot touch the connection later.
 *
 * <p>Confined to the event loop running the call.
 */
public final class JsConnection {
    private final Connection conn;
    private final HookSpec spec;
    private final RateLimiters limiters;
    private boolean done;
    private boolean rejected;

    JsConnection(Connection conn, HookSpec spec, RateLimiters limiters) {
        this.conn = conn;
        this.spec = spec;
        this.limiters = limiters;
    }

    /** Ends the call: from now on every method throws. */
    void finish() {
        done = true;
    }

    /** Whether the script called {@code conn.reject()}. */
    boolean rejected() {
        return rejected;
    }

    private void check(String function) {
        if (done) {
            throw new IllegalStateException(function + ": this conn belongs to an onConnect call that has returned"
                    + " (expected: use conn only during the call it was passed to)");
        }
        // Only an onConnect call ever gets a conn; the check is for symmetry with ex and a clear message.
        Phases.check(function, Phases.CONNECT, Phase.CONNECT);
    }

    @HostAccess.Export
    public String clientIp() {
        check("conn.client");
        var a = conn.clientAddress();
        return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    }

    @HostAccess.Export
    public int clientPort() {
        check("conn.client");
        return conn.clientAddress().getPort();
    }

    @HostAccess.Export
    public String listener() {
        check("conn.listener");
        return conn.listener();
    }

    @HostAccess.Export
    public String localIp() {
        check("conn.local");
        var a = conn.localAddress();
        return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    }

    @HostAccess.Export
    public int localPort() {
        check("conn.local");
        return conn.localAddress().getPort();
    }

    @HostAccess.Export
    public String sni() {
        check("conn.sni");
        return conn.sni();
    }

    @HostAccess.Export
    public String upstream() {
        check("conn.upstream");
        return conn.upstream();
    }

    @HostAccess.Export
    public String endpoint() {
        check("conn.endpoint");
        Endpoint e = conn.endpoint();
        return e == null ? null : e.toString();
    }

    @HostAccess.Export
    public void useUpstream(String name) {
        check("conn.useUpstream()");
        conn.useUpstream(name);
    }

    @HostAccess.Export
    public void useEndpoint(String hostPort) {
        check("conn.useEndpoint()");
        conn.useEndpoint(Endpoint.parse(hostPort));
    }

    @HostAccess.Export
    public Rejection reject() {
        check("conn.reject()");
        rejected = true;
        return new Rejection(this);
    }

    @HostAccess.Export
    public boolean limit(String key, double rate, String per, double burst) {
        check("conn.limit()");
        long perNanos = Durations.parseNanos("conn.limit per", per);
        return limiters.tryTake(spec.plugin().name(), key, rate, perNanos, burst);
    }

    @HostAccess.Export
    public boolean limitPolicy(String key, String policy) {
        check("conn.limit()");
        return limiters.tryTakeNamed("conn.limit", key, policy);
    }

    /** What {@code conn.reject()} returns; {@code return conn.reject()} reads like {@code return ex.respond(..)}. */
    public static final class Rejection {
        final JsConnection owner;

        Rejection(JsConnection owner) {
            this.owner = owner;
        }
    }
}
