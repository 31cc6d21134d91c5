package dev.torii.server.internal;

import dev.torii.ErrorResponder;
import dev.torii.Hook;
import dev.torii.access.AccessControl;
import dev.torii.ratelimit.RateLimits;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.script.ScriptRuntime;
import dev.torii.server.config.PluginUse;
import dev.torii.server.config.RateLimitSettings;
import dev.torii.server.config.ServerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The hooks a configuration attaches, made the same way at start-up and by each reload. Stateless. */
public final class ServerHooks {
    private ServerHooks() {}

    /**
     * The global hooks after the observability ones (which {@link Observability#configure} adds first, so tracing sees
     * every answer): the access lists first (after maintenance), so a refused client reaches no plugin; then the rate
     * limits, before plugins, since refusing a flood should cost as little as possible; then the global plugins.
     *
     * @throws IllegalArgumentException when a policy named by {@code rateLimit} or a listener is unknown
     */
    public static List<Hook> global(
            ServerConfig config, RateLimits limits, AccessControl access, ScriptRuntime scripts) {
        List<Hook> hooks = new ArrayList<>();
        if (access != null) {
            hooks.add(access.hook(ErrorResponder.plainText()));
        }
        RateLimitSettings limitSettings = config.rateLimits();
        hooks.addAll(limitSettings.globalHooks(limits, ErrorResponder.plainText()));
        hooks.addAll(limitSettings.listenerHooks(limits, ErrorResponder.plainText()));
        for (PluginUse use : config.plugins().global()) {
            hooks.add(scripts.hook(use.plugin(), use.config()));
        }
        return hooks;
    }

    /** {@code table} with the hooks of each route's plugins added after the route's own hooks. */
    public static RoutingTable withPlugins(
            RoutingTable table, Map<String, List<PluginUse>> routePlugins, ScriptRuntime scripts) {
        RoutingTable.Builder b = RoutingTable.builder();
        table.upstreams().values().forEach(b::upstream);
        for (Route r : table.routes()) {
            List<PluginUse> uses = routePlugins.getOrDefault(r.name(), List.of());
            if (uses.isEmpty()) {
                b.route(r);
                continue;
            }
            List<Hook> hooks = new ArrayList<>(r.hooks());
            for (PluginUse use : uses) {
                hooks.add(scripts.hook(use.plugin(), use.config()));
            }
            b.route(r.withHooks(hooks));
        }
        return b.build();
    }
}
