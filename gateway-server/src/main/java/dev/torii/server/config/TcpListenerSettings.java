package dev.torii.server.config;

import dev.torii.tcp.TcpListener;
import java.util.List;
import java.util.Objects;

/**
 * A TCP listener of the configuration ({@code protocol: tcp}) with the plugins attached to it. Immutable.
 *
 * @param listener the listener, without plugin hooks ({@link dev.torii.server.ToriiServer} adds them)
 * @param plugins plugins run for each accepted connection ({@code onConnect}), after the global ones, in this order
 */
public record TcpListenerSettings(TcpListener listener, List<PluginUse> plugins) {
    public TcpListenerSettings {
        Objects.requireNonNull(listener, "listener");
        plugins = List.copyOf(plugins);
    }
}
