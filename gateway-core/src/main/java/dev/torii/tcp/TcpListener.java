package dev.torii.tcp;

import dev.torii.Hook;
import dev.torii.Listener;
import dev.torii.ListenerOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A listener that proxies raw TCP: each accepted connection is piped, byte for byte, to one endpoint of an upstream
 * of the routing table (chosen by the upstream's load balancer, or by a {@link dev.torii.Phase#CONNECT} hook).
 * Immutable.
 *
 * <pre>
 * client ─▶ accept on event loop L ─▶ CONNECT hooks (global, then this listener's; any may reject = close)
 *   ─▶ endpoint: hook's choice, or LoadBalancer.pick (host names through the DnsCache, without blocking L)
 *   ─▶ connect on L (the upstream's connectTimeout; a failure tries one other endpoint, then closes the client)
 *   ─▶ bytes both ways; each side read only while the other is writable; a half-close is passed on
 * </pre>
 *
 * <p>A connection closes when both directions have ended, when either side resets, or after {@link #idleTimeout()}
 * without a byte in either direction. On shutdown, connections still choosing a backend close at once; established
 * ones keep going until they end or the gateway's shutdown deadline passes. Upstream connections are not pooled.
 *
 * @param name a name unique among the gateway's listeners
 * @param host the IP address (or {@code localhost}) to bind
 * @param port the port, or 0 for any free port
 * @param upstream the name of the upstream of the routing table that connections go to unless a hook chooses
 * @param hooks the listener's own hooks, run after the gateway's global ones ({@link Hook#onConnect} only)
 * @param idleTimeout how long a connection may pass no byte in either direction before it is closed
 * @param options this listener's own settings ({@link ListenerOptions#DEFAULTS} when it sets none)
 */
public record TcpListener(
        String name,
        String host,
        int port,
        String upstream,
        List<Hook> hooks,
        Duration idleTimeout,
        ListenerOptions options) {
    /** The idle timeout unless set: long, because idle connections are normal for protocols such as Redis. */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(10);

    public TcpListener {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(host, "host");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' address: port " + port + " (expected: 0-65535)");
        }
        if (upstream == null || upstream.isBlank()) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' upstream: '" + upstream + "' (expected: an upstream name)");
        }
        hooks = List.copyOf(hooks);
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException(
                    "listener '" + name + "' idleTimeout: " + idleTimeout + " (expected: > 0)");
        }
    }

    /** A TCP listener on {@code host:port} ({@code [::1]:6380} for IPv6) to {@code upstream}, without hooks. */
    public static TcpListener of(String name, String address, String upstream) {
        return builder(name, address, upstream).build();
    }

    /** A builder for a TCP listener on {@code host:port} to {@code upstream}. */
    public static Builder builder(String name, String address, String upstream) {
        Listener parsed = Listener.http(name, address); // the same address rules as HTTP listeners
        return new Builder(name, parsed.host(), parsed.port(), upstream);
    }

    /** Builds a {@link TcpListener}. Not thread-safe. */
    public static final class Builder {
        private final String name;
        private final String host;
        private final int port;
        private final String upstream;
        private final List<Hook> hooks = new ArrayList<>();
        private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
        private ListenerOptions options = ListenerOptions.DEFAULTS;

        private Builder(String name, String host, int port, String upstream) {
            this.name = name;
            this.host = host;
            this.port = port;
            this.upstream = upstream;
        }

        /** Adds a hook of this listener; they run after the gateway's global hooks, in the order added. */
        public Builder hook(Hook hook) {
            hooks.add(Objects.requireNonNull(hook, "hook"));
            return this;
        }

        /** See {@link TcpListener#idleTimeout()}; default {@link #DEFAULT_IDLE_TIMEOUT}. */
        public Builder idleTimeout(Duration idleTimeout) {
            this.idleTimeout = Objects.requireNonNull(idleTimeout, "idleTimeout");
            return this;
        }

        /** This listener's own settings; default {@link ListenerOptions#DEFAULTS}. */
        public Builder options(ListenerOptions options) {
            this.options = Objects.requireNonNull(options, "options");
            return this;
        }

        public TcpListener build() {
            return new TcpListener(name, host, port, upstream, hooks, idleTimeout, options);
        }
    }
}
