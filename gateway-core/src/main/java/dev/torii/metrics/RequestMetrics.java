package dev.torii.metrics;

import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.Hook;
import dev.torii.ProxyError;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A {@link dev.torii.Phase#LOG} hook that turns each exchange's {@link ExchangeLog} into request series. In Prometheus
 * names:
 *
 * <ul>
 *   <li>{@code torii_requests_total{route, upstream, protocol, status, error}}: finished exchanges; {@code status} is
 *       the class ({@code 2xx}...{@code 5xx}), {@code error} the {@link ProxyError} kind or {@code none}, {@code
 *       protocol} {@code 1.0}, {@code 1.1} or {@code 2};
 *   <li>{@code torii_request_duration_seconds{route}}: head decoded to last byte sent, a histogram with Micrometer's
 *       percentile buckets (the same bounds on every instance, so {@code histogram_quantile} aggregates them);
 *   <li>{@code torii_upstream_response_duration_seconds{upstream}}: upstream connection ready to response head
 *       (the upstream's own time to first byte, pool waits and connects excluded);
 *   <li>{@code torii_upstream_connect_duration_seconds{upstream}}: head decoded to connection ready (pool acquire or
 *       connect, with the DNS lookup when there was one);
 *   <li>{@code torii_upstream_retries_total{upstream}}: attempts beyond the first;
 *   <li>{@code torii_request_bytes_total{route}}, {@code torii_response_bytes_total{route}}: body bytes.
 * </ul>
 *
 * Label values come from the configuration or closed sets ({@code none} when no route or upstream was chosen), so
 * the number of series is bounded by routes x upstreams x a few dozen.
 *
 * <p>Thread-safe: meters are created once per label set (a concurrent map) and are themselves thread-safe.
 */
public final class RequestMetrics implements Hook {
    private static final String NONE = "none";
    private static final Duration MIN_EXPECTED = Duration.ofMillis(1);
    private static final Duration MAX_EXPECTED = Duration.ofSeconds(60);

    private final MeterRegistry registry;
    private final ConcurrentHashMap<RequestKey, Counter> requests = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, RouteMeters> routes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, UpstreamMeters> upstreams = new ConcurrentHashMap<>();

    private record RequestKey(String route, String upstream, String protocol, int statusClass, ProxyError error) {}

    /** A route's meters, and the requests counter its last exchange used (most exchanges of a route repeat it). */
    private static final class RouteMeters {
        final Timer duration;
        final Counter requestBytes;
        final Counter responseBytes;
        /** Read and replaced by any thread: an immutable value, so a racy read sees a whole one (or an older one). */
        RequestCounter last;

        RouteMeters(Timer duration, Counter requestBytes, Counter responseBytes) {
            this.duration = duration;
            this.requestBytes = requestBytes;
            this.responseBytes = responseBytes;
        }
    }

    private record RequestCounter(RequestKey key, Counter counter) {
        boolean matches(String upstream, String protocol, int statusClass, ProxyError error) {
            return key.statusClass() == statusClass
                    && key.error() == error
                    && key.upstream().equals(upstream)
                    && Objects.equals(key.protocol(), protocol);
        }
    }

    private record UpstreamMeters(Timer response, Timer connect, Counter retries) {}

    /** Meters registered in {@code registry} as exchanges with new label values finish. */
    public RequestMetrics(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry");
    }

    @Override
    public String name() {
        return "metrics";
    }

    @Override
    public void onLog(Exchange exchange) {
        record(exchange.log());
    }

    @Override
    public void onRefused(ExchangeLog log) {
        record(log);
    }

    /** Counts one finished exchange (what {@link #onLog} does with its record). */
    public void record(ExchangeLog log) {
        String route = log.route() == null ? NONE : log.route();
        String upstream = log.upstream() == null ? NONE : log.upstream();
        RouteMeters r = routes.computeIfAbsent(route, this::routeMeters);
        int statusClass = log.status() / 100;
        RequestCounter last = r.last;
        if (last != null && last.matches(upstream, log.protocol(), statusClass, log.error())) {
            last.counter().increment();
        } else {
            RequestKey key = new RequestKey(route, upstream, log.protocol(), statusClass, log.error());
            Counter counter = requests.computeIfAbsent(key, this::requestCounter);
            counter.increment();
            r.last = new RequestCounter(key, counter);
        }

        if (log.totalNanos() >= 0) {
            r.duration.record(log.totalNanos(), TimeUnit.NANOSECONDS);
        }
        // A body-less request (most of them) adds nothing: no need to touch the adder.
        if (log.requestBodyBytes() != 0) {
            r.requestBytes.increment(log.requestBodyBytes());
        }
        if (log.responseBodyBytes() != 0) {
            r.responseBytes.increment(log.responseBodyBytes());
        }

        if (log.upstream() != null) {
            UpstreamMeters u = upstreams.computeIfAbsent(upstream, this::upstreamMeters);
            if (log.upstreamConnectNanos() >= 0) {
                u.connect().record(log.upstreamConnectNanos(), TimeUnit.NANOSECONDS);
                if (log.upstreamHeadersNanos() >= log.upstreamConnectNanos()) {
                    u.response().record(log.upstreamHeadersNanos() - log.upstreamConnectNanos(), TimeUnit.NANOSECONDS);
                }
            }
            if (log.attempts() > 1) {
                u.retries().increment(log.attempts() - 1);
            }
        }
    }

    /** {@code HTTP/1.1} becomes {@code 1.1}; {@code HTTP/2} and {@code HTTP/2.0} become {@code 2}. */
    static String protocolLabel(String protocol) {
        if (protocol == null) {
            return "unknown";
        }
        String v = protocol.startsWith("HTTP/") ? protocol.substring(5) : protocol;
        return v.equals("2.0") ? "2" : v;
    }

    private Counter requestCounter(RequestKey k) {
        return Counter.builder("torii.requests")
                .description("Finished exchanges by route, upstream, protocol, status class and error kind.")
                .tag("route", k.route())
                .tag("upstream", k.upstream())
                .tag("protocol", protocolLabel(k.protocol()))
                .tag("status", k.statusClass() + "xx")
                .tag("error", k.error() == null ? NONE : k.error().name())
                .register(registry);
    }

    private RouteMeters routeMeters(String route) {
        return new RouteMeters(
                Timer.builder("torii.request.duration")
                        .description("Exchanges from request head decoded to last byte sent.")
                        .tag("route", route)
                        .publishPercentileHistogram()
                        .minimumExpectedValue(MIN_EXPECTED)
                        .maximumExpectedValue(MAX_EXPECTED)
                        .register(registry),
                Counter.builder("torii.request.bytes")
                        .description("Request body bytes received from clients.")
                        .baseUnit("bytes")
                        .tag("route", route)
                        .register(registry),
                Counter.builder("torii.response.bytes")
                        .description("Response body bytes sent to clients.")
                        .baseUnit("bytes")
                        .tag("route", route)
                        .register(registry));
    }

    private UpstreamMeters upstreamMeters(String upstream) {
        return new UpstreamMeters(
                Timer.builder("torii.upstream.response.duration")
                        .description("Upstream connection ready to response head: the upstream's time to first byte.")
                        .tag("upstream", upstream)
                        .publishPercentileHistogram()
                        .minimumExpectedValue(MIN_EXPECTED)
                        .maximumExpectedValue(MAX_EXPECTED)
                        .register(registry),
                Timer.builder("torii.upstream.connect.duration")
                        .description("Request head decoded to upstream connection ready (pool acquire or connect).")
                        .tag("upstream", upstream)
                        .publishPercentileHistogram()
                        .minimumExpectedValue(Duration.ofNanos(100_000))
                        .maximumExpectedValue(MAX_EXPECTED)
                        .register(registry),
                Counter.builder("torii.upstream.retries")
                        .description("Upstream attempts beyond the first (connect failures retried).")
                        .tag("upstream", upstream)
                        .register(registry));
    }
}
