package dev.torii.metrics;

import dev.torii.Hook;
import dev.torii.tcp.TcpConnectionLog;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * TCP listener metrics, from each closed connection's {@link TcpConnectionLog}:
 *
 * <ul>
 *   <li>{@code torii_tcp_connections_finished_total{listener, outcome}}: finished connections by outcome ({@code closed},
 *       {@code rejected}, {@code no_backend});
 *   <li>{@code torii_tcp_bytes_total{listener, direction}}: bytes relayed, {@code in} from clients and {@code out} to
 *       them;
 *   <li>{@code torii_tcp_connection_duration_seconds{listener}}: a histogram of connection lifetimes (Prometheus
 *       buckets, so replicas aggregate).
 * </ul>
 *
 * Connections open now are {@code torii_gateway_tcp_connections} (from {@link dev.torii.GatewayStats}). Labels come
 * from the configuration (listener names), never from clients. Thread-safe: meters are created once per label set.
 */
public final class TcpMetrics implements Hook {
    private static final Duration MIN_EXPECTED = Duration.ofMillis(1);
    private static final Duration MAX_EXPECTED = Duration.ofHours(1);

    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, ListenerMeters> listeners = new ConcurrentHashMap<>();

    private record ListenerMeters(
            Counter closed, Counter rejected, Counter noBackend, Counter in, Counter out, Timer duration) {}

    /** Meters registered in {@code registry} as connections of new listeners finish. */
    public TcpMetrics(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    @Override
    public String name() {
        return "tcpMetrics";
    }

    @Override
    public void onConnectionClosed(TcpConnectionLog log) {
        ListenerMeters m = listeners.computeIfAbsent(log.listener(), this::meters);
        switch (log.outcome()) {
            case CLOSED -> m.closed().increment();
            case REJECTED -> m.rejected().increment();
            case NO_BACKEND -> m.noBackend().increment();
        }
        m.in().increment(log.bytesFromClient());
        m.out().increment(log.bytesToClient());
        m.duration().record(log.duration());
    }

    private ListenerMeters meters(String listener) {
        return new ListenerMeters(
                connections(listener, TcpConnectionLog.Outcome.CLOSED),
                connections(listener, TcpConnectionLog.Outcome.REJECTED),
                connections(listener, TcpConnectionLog.Outcome.NO_BACKEND),
                bytes(listener, "in"),
                bytes(listener, "out"),
                Timer.builder("torii.tcp.connection.duration")
                        .description("TCP listener connection lifetimes, accept to close")
                        .tag("listener", listener)
                        .publishPercentileHistogram()
                        .minimumExpectedValue(MIN_EXPECTED)
                        .maximumExpectedValue(MAX_EXPECTED)
                        .register(registry));
    }

    private Counter connections(String listener, TcpConnectionLog.Outcome outcome) {
        return Counter.builder("torii.tcp.connections.finished")
                .description("TCP listener connections finished, by outcome")
                .tag("listener", listener)
                .tag("outcome", outcome.tag())
                .register(registry);
    }

    private Counter bytes(String listener, String direction) {
        return Counter.builder("torii.tcp.bytes")
                .description("Bytes relayed by TCP listeners: in from clients, out to them")
                .baseUnit("bytes")
                .tag("listener", listener)
                .tag("direction", direction)
                .register(registry);
    }
}
