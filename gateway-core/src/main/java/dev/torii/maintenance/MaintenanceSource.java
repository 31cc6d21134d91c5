package dev.torii.maintenance;

import java.util.Locale;

/** Where a change of the maintenance state came from; every switch is logged with its source. */
public enum MaintenanceSource {
    /** The admin API ({@code PUT}/{@code DELETE /maintenance}, windows and routes endpoints). */
    ADMIN,
    /** The flag file appeared or went away. */
    FILE,
    /** Another replica, through the shared Redis key and its pub/sub channel (or a resync after an outage). */
    REDIS,
    /** A scheduled window began or ended. */
    SCHEDULE,
    /** A Java or JavaScript caller of {@link MaintenanceMode}. */
    API;

    /** The lower-case name used in logs: {@code admin}, {@code file}, {@code redis}, {@code schedule}, {@code api}. */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
