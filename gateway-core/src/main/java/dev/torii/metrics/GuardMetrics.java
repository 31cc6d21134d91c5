package dev.torii.metrics;

import dev.torii.ConnectionGuard;
import dev.torii.access.AccessControl;
import dev.torii.access.AccessStats;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.maintenance.MaintenanceStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * Binds the guards' counters, read at scrape time: the maintenance switch's {@link MaintenanceStats} (Redis
 * connection, outages, switches, answered and bypassed requests) and, when IP lists are configured, the
 * {@link AccessStats}. Series, in Prometheus form: {@code torii_maintenance_redis_connected},
 * {@code torii_maintenance_redis_outages_total}, {@code torii_maintenance_switches_total},
 * {@code torii_maintenance_answered_total}, {@code torii_maintenance_bypassed_total},
 * {@code torii_access_denied_total{kind="request|connection"}}, {@code torii_access_list_reloads_total} and
 * {@code torii_access_list_reload_failures_total}. ({@code torii_maintenance}, 1 while on, comes with
 * {@link GatewayStatsMetrics}.) Thread-safe.
 */
public final class GuardMetrics implements MeterBinder {
    private final Snapshot<MaintenanceStats> maintenance;
    private final Snapshot<AccessStats> access;

    /**
     * @param maintenance the maintenance switch, or {@code null} for none
     * @param access the IP lists, or {@code null} for none
     */
    public GuardMetrics(MaintenanceMode maintenance, AccessControl access) {
        this.maintenance = maintenance == null ? null : new Snapshot<>(maintenance::stats);
        this.access = access == null ? null : new Snapshot<>(access::stats);
    }

    @Override
    public void bindTo(MeterRegistry r) {
        if (maintenance != null) {
            Supplier<MaintenanceStats> reader = maintenance.reader();
            Gauge.builder(
                            "torii.maintenance.redis.connected",
                            reader,
                            Snapshot.read(reader, s -> s.redisEnabled() && s.redisConnected() ? 1 : 0))
                    .description("1 while the Redis that shares the maintenance switch answers (0 also without Redis).")
                    .register(r);
            counter(
                    r,
                    maintenance,
                    "torii.maintenance.redis.outages",
                    "Times Redis became unreachable.",
                    null,
                    null,
                    MaintenanceStats::redisOutages);
            counter(
                    r,
                    maintenance,
                    "torii.maintenance.switches",
                    "Maintenance state changes, from any source.",
                    null,
                    null,
                    MaintenanceStats::switches);
            counter(
                    r,
                    maintenance,
                    "torii.maintenance.answered",
                    "Requests answered with the maintenance page.",
                    null,
                    null,
                    MaintenanceStats::answered);
            counter(
                    r,
                    maintenance,
                    "torii.maintenance.bypassed",
                    "Requests let through maintenance by a bypass.",
                    null,
                    null,
                    MaintenanceStats::bypassed);
        }
        if (access != null) {
            counter(
                    r,
                    access,
                    "torii.access.denied",
                    "Requests and connections refused by an IP list.",
                    "kind",
                    "request",
                    AccessStats::deniedRequests);
            counter(
                    r,
                    access,
                    "torii.access.denied",
                    "Requests and connections refused by an IP list.",
                    "kind",
                    "connection",
                    AccessStats::deniedConnections);
            counter(
                    r,
                    access,
                    "torii.access.list.reloads",
                    "IP list files reloaded.",
                    null,
                    null,
                    AccessStats::reloads);
            counter(
                    r,
                    access,
                    "torii.access.list.reload.failures",
                    "IP list files that failed to reload.",
                    null,
                    null,
                    AccessStats::reloadFailures);
        }
    }

    /**
     * The connections refused at accept by {@code guards}, by reason: {@code torii_guard_connections_refused_total}
     * tagged {@code reason} ({@link ConnectionGuard#reason()}: {@code max_connections_per_client},
     * {@code new_connections_per_client}, {@code access_list}, ...); guards sharing a reason are summed.
     */
    public static MeterBinder connectionGuards(List<ConnectionGuard> guards) {
        Map<String, List<ConnectionGuard>> byReason = new LinkedHashMap<>();
        for (ConnectionGuard g : guards) {
            byReason.computeIfAbsent(g.reason(), r -> new ArrayList<>()).add(g);
        }
        return r -> byReason.forEach(
                // Micrometer holds the state object weakly: the function holds the guards strongly.
                (reason, list) -> FunctionCounter.builder("torii.guard.connections.refused", list, ignored -> {
                            long n = 0;
                            for (ConnectionGuard g : list) {
                                n += g.refused();
                            }
                            return n;
                        })
                        .description("Client connections closed at accept by a connection guard, by reason.")
                        .tag("reason", reason)
                        .register(r));
    }

    /**
     * Requests refused for a body below the minimum rate (slow POST): {@code torii_request_body_too_slow_total}.
     */
    public static MeterBinder slowRequestBodies(java.util.function.LongSupplier count) {
        return r -> FunctionCounter.builder("torii.request.body.too.slow", count, ignored -> count.getAsLong())
                .description("Requests refused (408 or reset) for a body slower than limits.minRequestBodyRate.")
                .register(r);
    }

    private static <T> void counter(
            MeterRegistry r,
            Snapshot<T> source,
            String name,
            String help,
            String tag,
            String value,
            ToDoubleFunction<T> f) {
        Supplier<T> reader = source.reader();
        var b = FunctionCounter.builder(name, reader, Snapshot.read(reader, f)).description(help);
        if (tag != null) {
            b.tag(tag, value);
        }
        b.register(r);
    }
}
