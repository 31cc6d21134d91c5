package dev.torii.dns.internal;

/**
 * A forward zone: the names at or below {@code name} (lower case, no final dot; {@code ""} is the root, every name),
 * asked of its own upstreams under its own caching policy, as a NodeLocal DNSCache Corefile's server blocks do.
 *
 * @param name the zone apex, like {@code cluster.local} or {@code 10.in-addr.arpa}; {@code ""} for the root
 * @param policy the TTL clamps, stale and failure policy of answers in the zone
 * @param upstreams the servers asked for names in the zone
 */
public record Zone(String name, Policy policy, Upstreams upstreams) {
    /** Whether {@code qname} (lower case, no final dot) is at or below this zone's apex. */
    boolean contains(String qname) {
        return name.isEmpty()
                || (qname.endsWith(name)
                        && (qname.length() == name.length()
                                || qname.charAt(qname.length() - name.length() - 1) == '.'));
    }
}
