package dev.torii.server.internal;

import dev.torii.Listener;
import dev.torii.dns.DnsRateLimit;
import dev.torii.server.config.DnsListenerSettings;
import dev.torii.server.internal.YamlReader.Fields;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * The {@code dns} section (the DNS cache) and the settings of listeners with {@code protocol: dns}, which answer from
 * it. Not thread-safe.
 */
final class DnsReader implements SectionReader {
    /** The top-level keys this reader owns. */
    static final List<String> KEYS = List.of("dns");

    /** Keys of a listener with protocol dns only. */
    static final List<String> LISTENER_KEYS =
            List.of("rateLimit", "tcpIdleTimeout", "maxTcpConnections", "maxPendingQueries");

    private static final List<String> RATE_LIMIT_KEYS = List.of("rate", "per", "burst", "overLimit", "maxClients");

    private final ConfigDraft draft;
    private final YamlReader yaml;

    DnsReader(ConfigDraft draft) {
        this.draft = draft;
        this.yaml = draft.yaml;
    }

    @Override
    public void read(Fields top) {
        draft.dns = new DnsSectionReader(yaml, draft.baseDirectory).read(top.value("dns"));
        if (top.value("dns") == null) {
            for (var e : draft.dnsProtocolNodes.entrySet()) {
                yaml.error(
                        e.getKey(),
                        e.getValue()
                                + ": 'dns' needs the dns section, whose cache it serves (expected: dns: { upstreams:"
                                + " [ \"10.96.0.10:53\" ] } at the top level)");
            }
        }
    }

    void readListener(Fields f, String name, String address, Listener parsed, Node protocolNode) {
        draft.dnsProtocolNodes.put(protocolNode, f.path("protocol"));
        try {
            InetAddress.ofLiteral(parsed.host());
        } catch (IllegalArgumentException e) {
            yaml.error(
                    f.value("address"),
                    f.path("address") + ": '" + address
                            + "' (expected: an IP address and a port for a dns listener, like 169.254.20.10:53)");
            return;
        }
        int before = yaml.errorCount();
        Optional<DnsRateLimit> rateLimit = Optional.empty();
        Node rateNode = f.value("rateLimit");
        if (rateNode != null) {
            rateLimit = readDnsRateLimit(rateNode, f.path("rateLimit"));
        }
        Duration idle = yaml.valueOr(f, "tcpIdleTimeout", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(10));
        long maxTcp = yaml.valueOr(f, "maxTcpConnections", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), 1_024L);
        long maxPending =
                yaml.valueOr(f, "maxPendingQueries", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), 10_000L);
        if (yaml.errorCount() == before) {
            draft.dnsListeners.add(
                    new DnsListenerSettings(name, address, rateLimit, idle, (int) maxTcp, (int) maxPending));
        }
    }

    private Optional<DnsRateLimit> readDnsRateLimit(Node node, String path) {
        Fields f = yaml.fields(node, path, RATE_LIMIT_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        int before = yaml.errorCount();
        Long rate = null;
        Node rateNode = f.value("rate");
        if (rateNode == null) {
            yaml.error(node, path + ": missing key 'rate' (expected: queries per 'per' and client, e.g. rate: 200)");
        } else {
            rate = yaml.integer(rateNode, f.path("rate"), 1, Long.MAX_VALUE);
        }
        Duration per = yaml.valueOr(f, "per", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        Long burst = yaml.valueOr(f, "burst", (n, p) -> yaml.integer(n, p, 1, Long.MAX_VALUE), rate);
        DnsRateLimit.OverLimit overLimit = DnsRateLimit.OverLimit.DROP;
        Node overNode = f.value("overLimit");
        if (overNode != null) {
            String text = yaml.string(overNode, f.path("overLimit"));
            if (text != null) {
                overLimit = Arrays.stream(DnsRateLimit.OverLimit.values())
                        .filter(o -> o.configName().equals(text))
                        .findFirst()
                        .orElse(null);
                if (overLimit == null) {
                    yaml.error(overNode, f.path("overLimit") + ": '" + text + "' (expected one of: drop, refuse)");
                }
            }
        }
        long maxClients = yaml.valueOr(f, "maxClients", (n, p) -> yaml.integer(n, p, 1, Integer.MAX_VALUE), (long)
                DnsRateLimit.DEFAULT_MAX_CLIENTS);
        if (yaml.errorCount() != before || rate == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(new DnsRateLimit(rate, per, burst, overLimit, (int) maxClients));
        } catch (IllegalArgumentException e) {
            yaml.builderError(f, e);
            return Optional.empty();
        }
    }
}
