package dev.torii.internal;

import dev.torii.ConnectionGuard;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.access.ClientConnectionLimit;
import dev.torii.access.ClientConnectionRate;
import dev.torii.internal.tcp.ListenerConnectionLimit;
import dev.torii.tcp.TcpListener;
import java.net.InetSocketAddress;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The gateway's connection-count guards, whose settings a configuration reload swaps while the counts of open
 * connections stay: {@link Limits#newConnectionsPerClient()} with the listeners' own rates, then
 * {@link Limits#maxConnectionsPerClient()}, then the listeners' {@code maxConnections}. The three guards are made once
 * (so the refused-connection meters bound to them stay valid) and delegate to what the settings ask for.
 *
 * <ul>
 *   <li>Per-client count: the {@link ClientConnectionLimit} is made when a limit is first set, and from then on only
 *       its maximum changes (a limit removed later counts on, unbounded), so its counts stay exact; a limit set by a
 *       reload counts the connections accepted from then on.
 *   <li>Per-client rate: a changed rate gets new buckets (they start full, as a changed rate-limit policy does); an
 *       unchanged one keeps its buckets.
 *   <li>Per-listener count: every listener's connections are counted, so a limit a reload sets applies to those open.
 * </ul>
 *
 * <p>Thread-safe: the guards are called from every event loop; {@link #apply} from the reloading thread.
 */
public final class ConnectionLimits {
    private final PerClientCount perClient = new PerClientCount();
    private final PerClientRate rate = new PerClientRate();
    private final ListenerConnectionLimit perListener = new ListenerConnectionLimit(Map.of());

    /** Guards with the settings of {@code limits} and of the listeners' options. */
    public ConnectionLimits(Limits limits, Collection<Listener> http, Collection<TcpListener> tcp) {
        apply(limits, http, tcp);
    }

    /** The guards, in the order connections pass them. */
    public List<ConnectionGuard> guards() {
        return List.of(rate, perClient, perListener);
    }

    /** Applies the settings of {@code limits} and of the listeners' options to the accepts from now on. */
    public synchronized void apply(Limits limits, Collection<Listener> http, Collection<TcpListener> tcp) {
        rate.use(limits, http, tcp);
        perClient.use(limits.maxConnectionsPerClient());
        var perListenerLimits = new HashMap<String, Integer>();
        http.forEach(l -> {
            if (l.options().maxConnections() > 0) {
                perListenerLimits.put(l.name(), l.options().maxConnections());
            }
        });
        tcp.forEach(l -> {
            if (l.options().maxConnections() > 0) {
                perListenerLimits.put(l.name(), l.options().maxConnections());
            }
        });
        perListener.limits(perListenerLimits);
    }

    /** The running per-client count guard, if a limit was ever set. */
    Optional<ClientConnectionLimit> perClient() {
        return Optional.ofNullable(perClient.limit);
    }

    private static final class PerClientCount implements ConnectionGuard {
        private volatile ClientConnectionLimit limit;

        void use(int max) {
            ClientConnectionLimit l = limit;
            if (l == null) {
                if (max > 0) {
                    limit = new ClientConnectionLimit(max);
                }
            } else {
                l.max(max > 0 ? max : Integer.MAX_VALUE);
            }
        }

        @Override
        public boolean admit(String listener, InetSocketAddress client) {
            ClientConnectionLimit l = limit;
            return l == null || l.admit(listener, client);
        }

        @Override
        public void closed(String listener, InetSocketAddress client) {
            ClientConnectionLimit l = limit;
            if (l != null) {
                l.closed(listener, client);
            }
        }

        @Override
        public String reason() {
            return "max_connections_per_client";
        }

        @Override
        public long refused() {
            ClientConnectionLimit l = limit;
            return l == null ? 0 : l.refused();
        }
    }

    private static final class PerClientRate implements ConnectionGuard {
        /** What the running guard was made from: the gateway-wide rate and the listeners' own ones. */
        private record Settings(Optional<?> global, Map<String, ?> own) {}

        private volatile ClientConnectionRate current;
        private Settings settings;
        /** Refusals of the guards a reload replaced, so the counter never goes back. */
        private volatile long refusedBefore;

        void use(Limits limits, Collection<Listener> http, Collection<TcpListener> tcp) {
            var own = new HashMap<String, Object>();
            http.forEach(l -> l.options().newConnectionsPerClient().ifPresent(b -> own.put(l.name(), b)));
            tcp.forEach(l -> l.options().newConnectionsPerClient().ifPresent(b -> own.put(l.name(), b)));
            Settings next = new Settings(limits.newConnectionsPerClient(), Map.copyOf(own));
            if (next.equals(settings)) {
                return;
            }
            ClientConnectionRate old = current;
            current = ClientConnectionRate.of(limits, http, tcp).orElse(null);
            if (old != null) {
                refusedBefore += old.refused();
            }
            settings = next;
        }

        @Override
        public boolean admit(String listener, InetSocketAddress client) {
            ClientConnectionRate r = current;
            return r == null || r.admit(listener, client);
        }

        @Override
        public String reason() {
            return "new_connections_per_client";
        }

        @Override
        public long refused() {
            ClientConnectionRate r = current;
            return refusedBefore + (r == null ? 0 : r.refused());
        }
    }
}
