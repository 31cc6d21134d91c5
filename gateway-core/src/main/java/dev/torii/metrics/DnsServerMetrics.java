package dev.torii.metrics;

import dev.torii.dns.DnsServer;
import dev.torii.dns.DnsServerStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.List;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * Binds each {@link DnsServer}'s {@link DnsServerStats}, read at scrape time, labelled by {@code listener}:
 * {@code torii_dns_server_queries_total{transport}}, {@code torii_dns_server_responses_total{rcode}} (every rcode the
 * server can send, zero until sent), {@code _truncated_total}, {@code _rate_limited_total}, {@code _malformed_total},
 * {@code _dropped_total}, {@code _tcp_rejected_total} and the gauge {@code torii_dns_server_tcp_connections}.
 * Thread-safe.
 */
public final class DnsServerMetrics implements MeterBinder {
    /** The rcodes a {@link DnsServer} sends (see {@link DnsServerStats#responses()}). */
    static final List<String> RCODES =
            List.of("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP", "BADVERS");

    private final List<DnsServer> servers;

    /** Meters of every server in {@code servers}. */
    public DnsServerMetrics(List<DnsServer> servers) {
        this.servers = List.copyOf(servers);
    }

    @Override
    public void bindTo(MeterRegistry r) {
        for (DnsServer server : servers) {
            Snapshot<DnsServerStats> s = new Snapshot<>(server::stats);
            String l = server.name();
            String queries = "DNS queries received, by listener and transport.";
            counter(r, s, l, "torii.dns.server.queries", queries, "transport", "udp", DnsServerStats::udpQueries);
            counter(r, s, l, "torii.dns.server.queries", queries, "transport", "tcp", DnsServerStats::tcpQueries);
            for (String rcode : RCODES) {
                counter(
                        r,
                        s,
                        l,
                        "torii.dns.server.responses",
                        "DNS responses sent, by listener and rcode.",
                        "rcode",
                        rcode,
                        st -> st.responses(rcode));
            }
            counter(
                    r,
                    s,
                    l,
                    "torii.dns.server.truncated",
                    "UDP responses sent truncated (TC=1) because the answer did not fit the client's UDP size.",
                    null,
                    null,
                    DnsServerStats::truncated);
            counter(
                    r,
                    s,
                    l,
                    "torii.dns.server.rate.limited",
                    "Queries over their client's rate limit (dropped or refused).",
                    null,
                    null,
                    DnsServerStats::rateLimited);
            counter(
                    r,
                    s,
                    l,
                    "torii.dns.server.malformed",
                    "Queries that could not be parsed (FORMERR, or dropped without a header).",
                    null,
                    null,
                    DnsServerStats::malformed);
            counter(
                    r,
                    s,
                    l,
                    "torii.dns.server.dropped",
                    "Queries dropped for another reason: responses, too many pending, socket full.",
                    null,
                    null,
                    DnsServerStats::dropped);
            counter(
                    r,
                    s,
                    l,
                    "torii.dns.server.tcp.rejected",
                    "TCP connections closed at accept because maxTcpConnections were open.",
                    null,
                    null,
                    DnsServerStats::tcpRejected);
            Supplier<DnsServerStats> tcp = s.reader();
            Gauge.builder("torii.dns.server.tcp.connections", tcp, Snapshot.read(tcp, DnsServerStats::tcpConnections))
                    .description("TCP connections open now.")
                    .tag("listener", l)
                    .register(r);
        }
    }

    private static void counter(
            MeterRegistry r,
            Snapshot<DnsServerStats> s,
            String listener,
            String name,
            String help,
            String tag,
            String value,
            ToDoubleFunction<DnsServerStats> f) {
        Supplier<DnsServerStats> reader = s.reader();
        FunctionCounter.Builder<Supplier<DnsServerStats>> b = FunctionCounter.builder(
                        name, reader, Snapshot.read(reader, f))
                .description(help)
                .tag("listener", listener);
        if (tag != null) {
            b.tag(tag, value);
        }
        b.register(r);
    }
}
