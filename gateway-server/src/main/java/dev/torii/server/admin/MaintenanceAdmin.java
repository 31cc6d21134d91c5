package dev.torii.server.admin;

import dev.torii.maintenance.MaintenanceMode;
import dev.torii.maintenance.MaintenanceSource;
import dev.torii.maintenance.MaintenanceStats;
import dev.torii.maintenance.MaintenanceWindow;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * The admin API's maintenance endpoints beyond on and off: the state line, scheduled windows
 * ({@code GET}/{@code POST}/{@code DELETE /maintenance/windows?start=ISO&end=ISO[&routes=a,b]}) and maintenance per route
 * ({@code PUT}/{@code DELETE /maintenance/routes?route=NAME}). Every change is logged by the switch with source
 * {@code admin}. Stateless; thread-safe.
 */
public final class MaintenanceAdmin {
    private MaintenanceAdmin() {}

    /**
     * {@code maintenance on (switch on, file absent)}, followed by the routes in maintenance, an open window and the
     * Redis link when they apply: {@code , routes [billing], window open, redis unreachable (last known state kept)}.
     */
    public static AdminResponse state(MaintenanceMode m) {
        MaintenanceStats s = m.stats();
        var text = new StringBuilder("maintenance ")
                .append(s.on() ? "on" : "off")
                .append(" (switch ")
                .append(s.switchOn() ? "on" : "off")
                .append(", file ")
                .append(s.fileOn() ? "present" : "absent");
        if (!s.routesOn().isEmpty()) {
            text.append(", routes ").append(s.routesOn().stream().sorted().toList());
        }
        if (s.scheduleOn()) {
            text.append(", window open");
        }
        if (s.redisEnabled()) {
            text.append(s.redisConnected() ? ", redis connected" : ", redis unreachable (last known state kept)");
        }
        return AdminResponse.text(200, text.append(")\n").toString());
    }

    /** One line per window: {@code START END [routes]}. */
    public static AdminResponse windows(MaintenanceMode m) {
        var text = new StringBuilder();
        for (MaintenanceWindow w : m.windows()) {
            text.append(w.start()).append(' ').append(w.end());
            if (!w.routes().isEmpty()) {
                text.append(' ').append(String.join(",", w.routes()));
            }
            text.append('\n');
        }
        return AdminResponse.text(200, text.toString());
    }

    /** Adds the window of the query's {@code start}, {@code end} and optional {@code routes}; 400 with the reason. */
    public static AdminResponse addWindow(MaintenanceMode m, AdminRequest r) {
        try {
            m.addWindow(window(r), MaintenanceSource.ADMIN);
        } catch (IllegalArgumentException e) {
            return AdminResponse.text(400, e.getMessage() + "\n");
        }
        return windows(m);
    }

    /** Removes the window of the query's {@code start}, {@code end} and {@code routes}; 404 when there is none. */
    public static AdminResponse removeWindow(MaintenanceMode m, AdminRequest r) {
        MaintenanceWindow w;
        try {
            w = window(r);
        } catch (IllegalArgumentException e) {
            return AdminResponse.text(400, e.getMessage() + "\n");
        }
        if (!m.removeWindow(w, MaintenanceSource.ADMIN)) {
            return AdminResponse.text(404, "no window " + w + "\n");
        }
        return windows(m);
    }

    /** Puts route {@code route} (query) in maintenance, or takes it out. */
    public static AdminResponse route(MaintenanceMode m, AdminRequest r, boolean on) {
        String route = r.query().get("route");
        if (route == null || route.isBlank()) {
            return AdminResponse.text(400, "route: missing (expected: ?route=NAME)\n");
        }
        if (on) {
            m.enableRoute(route, MaintenanceSource.ADMIN);
        } else {
            m.disableRoute(route, MaintenanceSource.ADMIN);
        }
        return state(m);
    }

    private static MaintenanceWindow window(AdminRequest r) {
        Instant start = MaintenanceWindow.parseInstant("start", r.query().get("start"));
        Instant end = MaintenanceWindow.parseInstant("end", r.query().get("end"));
        String routes = r.query().get("routes");
        List<String> names = routes == null || routes.isBlank()
                ? List.of()
                : Arrays.stream(routes.split(","))
                        .map(String::strip)
                        .filter(s -> !s.isEmpty())
                        .toList();
        return new MaintenanceWindow(start, end, names);
    }
}
