package dev.torii.access;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Where the allow and deny lists apply: the whole gateway, per listener (by name) and per route (by name). A client
 * must pass every list that applies to it (global, then its listener's, then its route's). Immutable.
 *
 * @param global applies to every connection and request
 * @param listeners lists by listener name
 * @param routes lists by route name
 * @param reloadInterval how often list files are checked for changes
 */
public record AccessPolicy(
        AccessList global, Map<String, AccessList> listeners, Map<String, AccessList> routes, Duration reloadInterval) {
    public AccessPolicy {
        Objects.requireNonNull(global, "global");
        listeners = Map.copyOf(listeners);
        routes = Map.copyOf(routes);
        Objects.requireNonNull(reloadInterval, "reloadInterval");
        if (reloadInterval.compareTo(Duration.ofMillis(10)) < 0) {
            throw new IllegalArgumentException(
                    "access reloadInterval: " + reloadInterval + " (expected: at least 10ms)");
        }
    }

    /** No lists: everyone is let in. */
    public static AccessPolicy open() {
        return new AccessPolicy(AccessList.open(), Map.of(), Map.of(), Duration.ofSeconds(1));
    }

    /** Whether no list refuses anybody (no blocks, no files). */
    public boolean isOpen() {
        return global.isOpen()
                && listeners.values().stream().allMatch(AccessList::isOpen)
                && routes.values().stream().allMatch(AccessList::isOpen);
    }
}
