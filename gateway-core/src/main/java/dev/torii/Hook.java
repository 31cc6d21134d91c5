package dev.torii;

import dev.torii.tcp.ConnectResult;
import dev.torii.tcp.Connection;
import java.util.Set;

/**
 * Code that runs in the {@link Phase phases} of every exchange it is attached to: globally on the gateway, or on one
 * route. Rate limiting, maintenance mode, access logging and JavaScript plugins are all hooks. Global hooks run before
 * route hooks, each in the order they were added.
 *
 * <p>Methods run on the exchange's event loop and must not block: anything slow returns {@link HookResult#later}.
 * A hook that throws fails the exchange with {@link ProxyError#HOOK_FAILED}; the gateway keeps serving. One hook
 * instance serves every event loop concurrently, so it must be thread-safe.
 */
public interface Hook {
    /** The name used in logs and metrics. */
    default String name() {
        return getClass().getSimpleName();
    }

    /**
     * The phases this hook does something in (default: every phase). The engine skips the hook in the others among
     * {@link Phase#REQUEST}, {@link Phase#UPSTREAM} and {@link Phase#RESPONSE}: a hook that only answers
     * {@link #onRequest} costs nothing in the other two, and a phase none of an exchange's hooks runs in is passed
     * straight through. {@link #onConnect}, {@link #onLog} and {@link #onRefused} are still called: they are plain
     * method calls, which a hook without them answers by doing nothing.
     *
     * <p>Read for every exchange (so it may change over time, as a JavaScript plugin's exports do when it is reloaded);
     * must be cheap, non-blocking and thread-safe: return an immutable {@link java.util.EnumSet} kept in a field.
     */
    default Set<Phase> phases() {
        return HookPhases.ALL;
    }

    /**
     * {@link Phase#CONNECT}: a {@link dev.torii.tcp.TcpListener} accepted a connection, before a backend is chosen. The
     * hook may choose the backend on {@code connection} and proceed, or reject (close) the client. Runs for the
     * gateway's global hooks and the listener's own; HTTP listeners never call it.
     */
    default ConnectResult onConnect(Connection connection) {
        return ConnectResult.proceed();
    }

    /** {@link Phase#REQUEST}: headers decoded, before routing. */
    default HookResult onRequest(Exchange exchange) {
        return HookResult.proceed();
    }

    /** {@link Phase#UPSTREAM}: route matched, before the endpoint is chosen. Only route-matched exchanges get here. */
    default HookResult onUpstream(Exchange exchange) {
        return HookResult.proceed();
    }

    /** {@link Phase#RESPONSE}: the response head is ready; a {@code respond} replaces it. */
    default HookResult onResponse(Exchange exchange) {
        return HookResult.proceed();
    }

    /** {@link Phase#LOG}: the exchange finished; {@link Exchange#log()} holds the record. Read-only. */
    default void onLog(Exchange exchange) {}

    /**
     * A request refused before an exchange existed (a malformed head answered 400, a head that timed out 408, a
     * request line or headers over their limit 414/431): {@code log} is its record, with no route, upstream or
     * timings, and {@code uri}/{@code method} as far as they were read ({@code ""} when not). Runs for global hooks,
     * on the connection's event loop, in the order added; the access log and the request metrics implement it.
     */
    default void onRefused(ExchangeLog log) {}

    /**
     * A TCP listener's connection closed: {@code log} is its record (addresses, chosen upstream, bytes, duration,
     * outcome). Runs for the gateway's global hooks, on the connection's event loop, in the order added, after both
     * sides are closed; the access log (connection log) and the TCP metrics implement it. Must not block.
     */
    default void onConnectionClosed(dev.torii.tcp.TcpConnectionLog log) {}
}
