package dev.torii.dns.internal;

import java.util.Comparator;
import java.util.List;

/**
 * The forward zones of a cache, the most specific first, ending with the root zone: the zone of a name is the first
 * that contains it. A handful of zones is the norm (cluster.local, the reverse zones, the root), so a scan of suffixes
 * beats any index. Immutable and thread-safe.
 */
public final class Zones {
    private final List<Zone> zones;
    private final Zone root;

    /** {@code zones} must hold exactly one root zone ({@code ""}); order does not matter. */
    public Zones(List<Zone> zones) {
        this.zones = zones.stream()
                .sorted(Comparator.comparingInt((Zone z) -> z.name().length()).reversed())
                .toList();
        this.root = this.zones.getLast();
        if (!root.name().isEmpty()) {
            throw new IllegalArgumentException("zones: no root zone");
        }
    }

    /** The zone that answers {@code qname} (lower case, no final dot). */
    public Zone of(String qname) {
        for (Zone z : zones) {
            if (z.contains(qname)) {
                return z;
            }
        }
        return root;
    }

    /** Every zone, the most specific first, the root last. */
    public List<Zone> all() {
        return zones;
    }

    /** The root zone: everything no other zone claims. */
    public Zone root() {
        return root;
    }
}
