package dev.torii.server.config;

import dev.torii.Forwarding;
import dev.torii.access.AccessControl;
import dev.torii.access.AccessPolicy;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.maintenance.MaintenanceWindow;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The configuration's guards beyond the basic {@code maintenance} keys: the maintenance switch shared through Redis,
 * its scheduled windows, routes, path and token bypasses and JSON page, and the {@code access} allow and deny lists.
 * Immutable (the JSON page's bytes are not copied; nothing changes them).
 *
 * @param redisAddress the top-level {@code redis.address} ({@code host:port}), if set
 * @param maintenanceRedisKey the key (and channel) the maintenance switch is shared through, when
 *     {@code maintenance.redis} is set
 * @param windows {@code maintenance.windows}
 * @param maintenanceRoutes {@code maintenance.routes}: routes that start in maintenance
 * @param bypassPaths {@code maintenance.bypassPaths}
 * @param bypassHeader {@code maintenance.bypassHeader}
 * @param bypassTokens {@code maintenance.bypassTokens}
 * @param jsonPage {@code maintenance.jsonPage}'s bytes as read
 * @param access the {@code access} section ({@link AccessPolicy#open()} without one)
 */
public record GuardSettings(
        Optional<String> redisAddress,
        Optional<String> maintenanceRedisKey,
        List<MaintenanceWindow> windows,
        Set<String> maintenanceRoutes,
        List<String> bypassPaths,
        String bypassHeader,
        List<String> bypassTokens,
        Optional<byte[]> jsonPage,
        AccessPolicy access) {
    public GuardSettings {
        Objects.requireNonNull(redisAddress, "redisAddress");
        Objects.requireNonNull(maintenanceRedisKey, "maintenanceRedisKey");
        windows = List.copyOf(windows);
        maintenanceRoutes = Set.copyOf(maintenanceRoutes);
        bypassPaths = List.copyOf(bypassPaths);
        Objects.requireNonNull(bypassHeader, "bypassHeader");
        bypassTokens = List.copyOf(bypassTokens);
        Objects.requireNonNull(jsonPage, "jsonPage");
        Objects.requireNonNull(access, "access");
    }

    /** Nothing beyond the basic maintenance keys, no access lists. */
    public static GuardSettings defaults() {
        return new GuardSettings(
                Optional.empty(),
                Optional.empty(),
                List.of(),
                Set.of(),
                List.of(),
                "x-maintenance-bypass",
                List.of(),
                Optional.empty(),
                AccessPolicy.open());
    }

    /** A new maintenance switch from {@code base} (the basic keys) and these settings; it starts with the gateway. */
    public MaintenanceMode newMaintenanceMode(MaintenanceSettings base) {
        MaintenanceMode.Builder b = MaintenanceMode.builder()
                .enabled(base.enabled())
                .retryAfter(base.retryAfter())
                .bypass(base.bypass())
                .respond(base.respond())
                .routes(maintenanceRoutes)
                .windows(windows)
                .bypassPaths(bypassPaths)
                .bypassHeader(bypassHeader)
                .bypassTokens(bypassTokens);
        base.file().ifPresent(b::file);
        base.page().ifPresent(p -> b.page(p, base.contentType()));
        jsonPage.ifPresent(b::jsonPage);
        maintenanceRedisKey.ifPresent(key -> b.redis(redisAddress.orElseThrow(), key));
        return b.build();
    }

    /** The access lists' enforcer (not started), or empty when no list is configured. */
    public Optional<AccessControl> newAccessControl(Forwarding forwarding) {
        if (access.isOpen()) {
            return Optional.empty();
        }
        return Optional.of(AccessControl.builder(access)
                .trustedProxies(forwarding.trustedProxies())
                .build());
    }
}
