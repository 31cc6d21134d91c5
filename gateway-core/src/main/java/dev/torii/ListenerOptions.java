package dev.torii;

import dev.torii.ratelimit.Bandwidth;
import java.util.Objects;
import java.util.Optional;

/**
 * Settings that belong to one listener rather than to the whole gateway (HTTP, HTTPS and TCP listeners alike):
 * each component is one such setting, and its default is what the listener does when the setting is not given.
 * Immutable; build them with {@link #builder()} (or a variant of existing ones with {@link #toBuilder()} or a
 * {@code with...} method).
 *
 * <p>Gateway-wide defaults stay in {@link Limits} and the gateway's builder; a listener's options override them for
 * the connections that listener accepts.
 *
 * @param newConnectionsPerClient new connections per client IP address on this listener, counted in buckets of its
 *     own instead of {@link Limits#newConnectionsPerClient()}'s; empty to use the gateway-wide rate (if any)
 * @param pathNormalization how this listener's request paths are normalised, or {@code null} for the gateway-wide
 *     {@link Limits#pathNormalization()} (HTTP and HTTPS listeners; a TCP listener has no paths)
 * @param maxRequestsPerConnection requests one client connection of this listener may carry (see
 *     {@link Limits#maxRequestsPerConnection()}); 0 (the default) uses the gateway's limit, -1 lifts it for this
 *     listener
 * @param sni SNI passthrough routing of a TCP listener ({@link dev.torii.tcp.SniRouting}), or {@code null}
 * @param proxyProtocol the PROXY protocol accepted from trusted peers (HTTP, HTTPS and TCP listeners), or {@code null}
 * @param sendProxyProtocol the PROXY protocol header a TCP listener sends to its backends, or {@code null}: none
 * @param maxConnections the most client connections open at once on this listener, {@code 0} for no limit of its own
 */
public record ListenerOptions(
        Optional<Bandwidth> newConnectionsPerClient,
        PathNormalization pathNormalization,
        int maxRequestsPerConnection,
        dev.torii.tcp.SniRouting sni,
        dev.torii.proxyprotocol.ProxyProtocolAccept proxyProtocol,
        dev.torii.proxyprotocol.ProxyProtocolVersion sendProxyProtocol,
        int maxConnections) {
    /** The options of a listener that sets none of its own. */
    public static final ListenerOptions DEFAULTS = new ListenerOptions(Optional.empty(), null, 0, null, null, null, 0);

    public ListenerOptions {
        Objects.requireNonNull(newConnectionsPerClient, "newConnectionsPerClient");
        if (maxRequestsPerConnection < -1) {
            throw new IllegalArgumentException("maxRequestsPerConnection: " + maxRequestsPerConnection
                    + " (expected: > 0, 0 for the gateway's limit, -1 for none)");
        }
        if (maxConnections < 0) {
            throw new IllegalArgumentException("maxConnections: " + maxConnections + " (expected: >= 0)");
        }
    }

    /** These options with at most {@code rate} new connections per client address on this listener. */
    public ListenerOptions withNewConnectionsPerClient(Bandwidth rate) {
        return toBuilder()
                .newConnectionsPerClient(Objects.requireNonNull(rate, "rate"))
                .build();
    }

    /**
     * These options with {@code normalization} for this listener's paths in place of the gateway-wide one ({@code
     * null}: the gateway-wide one again).
     */
    public ListenerOptions withPathNormalization(PathNormalization normalization) {
        return toBuilder().pathNormalization(normalization).build();
    }

    /** These options with {@code requests} as the listener's request limit per connection (see the component). */
    public ListenerOptions withMaxRequestsPerConnection(int requests) {
        return toBuilder().maxRequestsPerConnection(requests).build();
    }

    /** The request limit per connection in effect on this listener, given the gateway's {@code limits}; 0 for none. */
    public int maxRequestsPerConnection(Limits limits) {
        return maxRequestsPerConnection == 0
                ? limits.maxRequestsPerConnection()
                : Math.max(0, maxRequestsPerConnection);
    }

    /**
     * These options with at most {@code maxConnections} client connections open at once on this listener (0: no limit
     * of its own; {@link Limits#maxConnections()} still applies). More are closed at accept.
     */
    public ListenerOptions withMaxConnections(int maxConnections) {
        return toBuilder().maxConnections(maxConnections).build();
    }

    /**
     * These options with SNI passthrough routing ({@code null}: none). TCP listeners only: the gateway refuses an HTTP
     * listener that has it.
     */
    public ListenerOptions withSni(dev.torii.tcp.SniRouting sni) {
        return toBuilder().sni(sni).build();
    }

    /** These options accepting the PROXY protocol from trusted peers ({@code null}: not accepted). */
    public ListenerOptions withProxyProtocol(dev.torii.proxyprotocol.ProxyProtocolAccept proxyProtocol) {
        return toBuilder().proxyProtocol(proxyProtocol).build();
    }

    /**
     * These options sending a PROXY protocol header of this version to each backend connection ({@code null}: none).
     * TCP listeners only.
     */
    public ListenerOptions withSendProxyProtocol(dev.torii.proxyprotocol.ProxyProtocolVersion sendProxyProtocol) {
        return toBuilder().sendProxyProtocol(sendProxyProtocol).build();
    }

    /** A builder with every setting at its default ({@link #DEFAULTS}). */
    public static Builder builder() {
        return new Builder(DEFAULTS);
    }

    /** A builder that starts from these options. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * Builds {@link ListenerOptions}: each setter replaces one setting, {@link #build()} checks them (as the record's
     * constructor does). Not thread-safe; the options it builds are.
     */
    public static final class Builder {
        private Optional<Bandwidth> newConnectionsPerClient;
        private PathNormalization pathNormalization;
        private int maxRequestsPerConnection;
        private dev.torii.tcp.SniRouting sni;
        private dev.torii.proxyprotocol.ProxyProtocolAccept proxyProtocol;
        private dev.torii.proxyprotocol.ProxyProtocolVersion sendProxyProtocol;
        private int maxConnections;

        private Builder(ListenerOptions from) {
            newConnectionsPerClient = from.newConnectionsPerClient;
            pathNormalization = from.pathNormalization;
            maxRequestsPerConnection = from.maxRequestsPerConnection;
            sni = from.sni;
            proxyProtocol = from.proxyProtocol;
            sendProxyProtocol = from.sendProxyProtocol;
            maxConnections = from.maxConnections;
        }

        /** At most {@code rate} new connections per client address on this listener ({@code null}: the gateway's). */
        public Builder newConnectionsPerClient(Bandwidth rate) {
            this.newConnectionsPerClient = Optional.ofNullable(rate);
            return this;
        }

        /** {@code normalization} for this listener's paths ({@code null}: the gateway-wide one). */
        public Builder pathNormalization(PathNormalization normalization) {
            this.pathNormalization = normalization;
            return this;
        }

        /** The listener's request limit per connection (0: the gateway's, -1: none). */
        public Builder maxRequestsPerConnection(int requests) {
            this.maxRequestsPerConnection = requests;
            return this;
        }

        /** At most {@code maxConnections} client connections open at once on this listener (0: no limit of its own). */
        public Builder maxConnections(int maxConnections) {
            this.maxConnections = maxConnections;
            return this;
        }

        /** SNI passthrough routing ({@code null}: none); TCP listeners only. */
        public Builder sni(dev.torii.tcp.SniRouting sni) {
            this.sni = sni;
            return this;
        }

        /** The PROXY protocol accepted from trusted peers ({@code null}: not accepted). */
        public Builder proxyProtocol(dev.torii.proxyprotocol.ProxyProtocolAccept proxyProtocol) {
            this.proxyProtocol = proxyProtocol;
            return this;
        }

        /** The PROXY protocol header version sent to each backend connection ({@code null}: none); TCP only. */
        public Builder sendProxyProtocol(dev.torii.proxyprotocol.ProxyProtocolVersion sendProxyProtocol) {
            this.sendProxyProtocol = sendProxyProtocol;
            return this;
        }

        /**
         * The options.
         *
         * @throws IllegalArgumentException when a setting is out of range (the message names it, its value and what
         *     was expected)
         */
        public ListenerOptions build() {
            return new ListenerOptions(
                    newConnectionsPerClient,
                    pathNormalization,
                    maxRequestsPerConnection,
                    sni,
                    proxyProtocol,
                    sendProxyProtocol,
                    maxConnections);
        }
    }
}
