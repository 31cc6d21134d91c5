package dev.torii.maintenance;

import java.util.Set;

/**
 * A snapshot of the maintenance switch for the admin API and metrics. Immutable.
 *
 * @param on whether maintenance is on for every request now
 * @param routesOn routes in maintenance now (by the switch or a window), besides {@link #on()}
 * @param switchOn the switch (admin API, Java API, Redis)
 * @param fileOn the flag file exists
 * @param scheduleOn a global window is open
 * @param redisEnabled whether the switch is shared through Redis
 * @param redisConnected whether Redis answers (when {@code redisEnabled}); while it does not, the last known state
 *     stays in force
 * @param redisOutages how many times Redis became unreachable
 * @param switches how many times the state changed, from any source
 * @param answered requests answered with the maintenance page
 * @param bypassed requests let through by a bypass (address, path prefix or header token) while maintenance was on
 */
public record MaintenanceStats(
        boolean on,
        Set<String> routesOn,
        boolean switchOn,
        boolean fileOn,
        boolean scheduleOn,
        boolean redisEnabled,
        boolean redisConnected,
        long redisOutages,
        long switches,
        long answered,
        long bypassed) {
    public MaintenanceStats {
        routesOn = Set.copyOf(routesOn);
    }
}
