package dev.torii.dns;

import java.util.Objects;

/**
 * One target of an SRV record (RFC 2782): a host and port that offer the service, with the priority (lower first) and
 * weight (share among equal priorities) its owner gave it. Immutable and thread-safe.
 *
 * @param priority the priority, 0-65535; targets with the lowest priority are tried first
 * @param weight the relative weight among targets of one priority, 0-65535
 * @param port the port of the service on the target
 * @param target the target host name, without its final dot ({@code "."} means the service is not offered)
 */
public record SrvTarget(int priority, int weight, int port, String target) {
    /** Checks the fields: each number fits in 16 bits and the target is not null. */
    public SrvTarget {
        check("priority", priority);
        check("weight", weight);
        check("port", port);
        Objects.requireNonNull(target, "target");
    }

    private static void check(String name, int value) {
        if (value < 0 || value > 0xFFFF) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: 0-65535)");
        }
    }
}
