package dev.torii.server.config;

import dev.torii.Forwarding;
import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.Http2Limits;
import dev.torii.Limits;
import dev.torii.Listener;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.upstream.Endpoint;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * A validated standalone-server configuration: what {@link ConfigLoader} makes of a YAML file. Immutable.
 *
 * @param listeners the gateway's HTTP listeners; with {@code dnsListeners}, at least one, names unique
 * @param routingTable routes and upstreams
 * @param limits client limits
 * @param http2Limits what HTTP/2 clients may do per connection ({@code limits.http2})
 * @param forwarding forwarding headers added upstream
 * @param ioThreads event-loop threads of the gateway
 * @param demoEcho the address of the built-in demo echo service to start alongside the gateway, if any
 * @param plugins the JavaScript plugins and where they are attached; {@link #routingTable()} holds no plugin hooks,
 *     {@link dev.torii.server.ToriiServer} adds them when it starts
 * @param dns the DNS cache for upstream host names, if configured (without it, names are resolved by the JVM); the
 *     {@code dns} listeners answer from it too
 * @param dnsListeners the listeners with {@code protocol: dns} (DNS server mode), not among {@link #listeners()}
 * @param admin where the admin API listens, if configured
 * @param tcpListeners the TCP listeners ({@code protocol: tcp}), with their plugins
 * @param maintenance how the maintenance switch starts ({@link MaintenanceSettings#defaults()} without the section)
 * @param rateLimits the rate-limit policies and where they apply; {@link #routingTable()} holds none of their hooks,
 *     {@link dev.torii.server.ToriiServer} adds them when it starts
 * @param guards the maintenance switch's Redis sharing, windows, routes and bypasses, and the access lists
 * @param observability the access log, tracing and the admin API's token
 * @param reload whether the server reloads when its configuration file changes ({@link ReloadSettings#DEFAULTS}: no)
 */
public record ServerConfig(
        List<Listener> listeners,
        RoutingTable routingTable,
        Limits limits,
        Http2Limits http2Limits,
        Forwarding forwarding,
        int ioThreads,
        Optional<Endpoint> demoEcho,
        PluginSettings plugins,
        Optional<DnsSettings> dns,
        List<DnsListenerSettings> dnsListeners,
        Optional<AdminSettings> admin,
        List<TcpListenerSettings> tcpListeners,
        MaintenanceSettings maintenance,
        RateLimitSettings rateLimits,
        GuardSettings guards,
        ObservabilitySettings observability,
        ReloadSettings reload) {

    public ServerConfig {
        listeners = List.copyOf(listeners);
        Objects.requireNonNull(routingTable, "routingTable");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(http2Limits, "http2Limits");
        Objects.requireNonNull(forwarding, "forwarding");
        Objects.requireNonNull(demoEcho, "demoEcho");
        Objects.requireNonNull(plugins, "plugins");
        Objects.requireNonNull(dns, "dns");
        dnsListeners = List.copyOf(dnsListeners);
        Objects.requireNonNull(admin, "admin");
        tcpListeners = List.copyOf(tcpListeners);
        Objects.requireNonNull(maintenance, "maintenance");
        Objects.requireNonNull(rateLimits, "rateLimits");
        Objects.requireNonNull(guards, "guards");
        Objects.requireNonNull(observability, "observability");
        Objects.requireNonNull(reload, "reload");
    }

    /**
     * A gateway builder with everything in this configuration set except plugins (they need a running script
     * runtime, which {@link dev.torii.server.ToriiServer} owns) and the maintenance switch (a runtime object: add one
     * made with {@link MaintenanceSettings#newMode()}); the caller may add hooks before building.
     */
    public Gateway.Builder gatewayBuilder() {
        return gatewayBuilder(use -> {
            throw new IllegalStateException("plugin " + use.plugin().name() + " needs a script runtime");
        });
    }

    /** {@link #gatewayBuilder()} with the TCP listeners' plugins attached as hooks made by {@code attach}. */
    public Gateway.Builder gatewayBuilder(Function<PluginUse, Hook> attach) {
        Gateway.Builder b = Gateway.builder()
                .routingTable(routingTable)
                .limits(limits)
                .http2Limits(http2Limits)
                .forwarding(forwarding)
                .ioThreads(ioThreads);
        listeners.forEach(b::listener);
        tcpListeners(attach).forEach(b::listener);
        return b;
    }

    /** The TCP listeners, each with its plugins attached (after its own hooks) as hooks made by {@code attach}. */
    public List<TcpListener> tcpListeners(Function<PluginUse, Hook> attach) {
        var out = new java.util.ArrayList<TcpListener>(tcpListeners.size());
        for (TcpListenerSettings t : tcpListeners) {
            if (t.plugins().isEmpty()) {
                out.add(t.listener());
                continue;
            }
            TcpListener.Builder tb = TcpListener.builder(
                            t.listener().name(),
                            hostPort(t.listener().host(), t.listener().port()),
                            t.listener().upstream())
                    .idleTimeout(t.listener().idleTimeout())
                    .options(t.listener().options());
            t.listener().hooks().forEach(tb::hook);
            t.plugins().forEach(use -> tb.hook(attach.apply(use)));
            out.add(tb.build());
        }
        return List.copyOf(out);
    }

    private static String hostPort(String host, int port) {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
