package dev.torii.maintenance;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Objects;

/**
 * A scheduled maintenance window: maintenance is on from {@code start} (inclusive) to {@code end} (exclusive), for the
 * whole gateway or only for some routes. Immutable.
 *
 * @param start when it begins
 * @param end when it ends; after {@code start}
 * @param routes the routes it applies to; empty: every request
 */
public record MaintenanceWindow(Instant start, Instant end, List<String> routes) {
    public MaintenanceWindow {
        Objects.requireNonNull(start, "start");
        Objects.requireNonNull(end, "end");
        routes = List.copyOf(routes);
        if (!end.isAfter(start)) {
            throw new IllegalArgumentException(
                    "maintenance window end: " + end + " (expected: after its start " + start + ")");
        }
    }

    /** A window for the whole gateway. */
    public static MaintenanceWindow of(Instant start, Instant end) {
        return new MaintenanceWindow(start, end, List.of());
    }

    /**
     * Parses an ISO-8601 instant with an offset: {@code 2026-12-03T22:00:00Z} or {@code 2026-12-03T23:00:00+01:00}.
     *
     * @param what the setting's name for the error message ({@code start}, {@code end})
     * @throws IllegalArgumentException naming the text and the expected form
     */
    public static Instant parseInstant(String what, String text) {
        try {
            return OffsetDateTime.parse(Objects.requireNonNull(text, what).strip())
                    .toInstant();
        } catch (DateTimeException e) {
            throw new IllegalArgumentException(
                    what + ": '" + text + "' (expected: an ISO-8601 time with offset, e.g. 2026-12-03T22:00:00Z)");
        }
    }

    /** Whether the window is open at {@code now}. */
    public boolean activeAt(Instant now) {
        return !now.isBefore(start) && now.isBefore(end);
    }

    /** Whether the window covers every request (no route list). */
    public boolean global() {
        return routes.isEmpty();
    }

    @Override
    public String toString() {
        return start + "/" + end + (routes.isEmpty() ? "" : " routes " + routes);
    }
}
