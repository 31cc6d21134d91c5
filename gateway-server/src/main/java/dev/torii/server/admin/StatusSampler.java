package dev.torii.server.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The status page's time series: every {@code interval} it reads the request meters of a registry
 * ({@code torii.requests}, {@code torii.request.duration}) and keeps, for the last {@code points} intervals, the
 * request rate, the 5xx rate, the rate of rate-limited requests and p50/p99 latency of the interval (interpolated in the
 * histogram buckets' deltas, as Prometheus' {@code histogram_quantile} does). One daemon thread of its own.
 *
 * <p>Thread-safe: {@link #points()} may be called from any thread.
 */
public final class StatusSampler implements AutoCloseable {
    /** One interval. Rates per second; latencies in milliseconds, {@code NaN} without requests. */
    public record Point(
            long epochMillis, double requestRate, double errorRate, double limitedRate, double p50, double p99) {}

    private final MeterRegistry registry;
    private final long intervalMillis;
    private final int capacity;
    private final ArrayDeque<Point> points = new ArrayDeque<>();
    private final ScheduledExecutorService timer;

    private long lastAt = -1;
    private double lastRequests;
    private double lastErrors;
    private double lastLimited;
    private Map<Double, Double> lastBuckets = Map.of();

    /** Starts sampling {@code registry} every {@code intervalMillis}, keeping {@code capacity} points. */
    public StatusSampler(MeterRegistry registry, long intervalMillis, int capacity) {
        this.registry = registry;
        this.intervalMillis = intervalMillis;
        this.capacity = capacity;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "torii-status-sampler");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(this::sample, 0, intervalMillis, TimeUnit.MILLISECONDS);
    }

    /** The points kept, oldest first. */
    public synchronized List<Point> points() {
        return new ArrayList<>(points);
    }

    /** The sampling interval in milliseconds. */
    public long intervalMillis() {
        return intervalMillis;
    }

    synchronized void sample() {
        long now = System.currentTimeMillis();
        double requests = 0;
        double errors = 0;
        double limited = 0;
        for (Counter c : registry.find("torii.requests").counters()) {
            double n = c.count();
            requests += n;
            if ("5xx".equals(c.getId().getTag("status"))) {
                errors += n;
            }
            if ("RATE_LIMITED".equals(c.getId().getTag("error"))) {
                limited += n;
            }
        }
        // Cumulative counts per bucket bound (ms), summed over routes: every route's timer has the same bounds.
        Map<Double, Double> buckets = new TreeMap<>();
        for (Timer t : registry.find("torii.request.duration").timers()) {
            for (CountAtBucket c : t.takeSnapshot().histogramCounts()) {
                buckets.merge(c.bucket(TimeUnit.MILLISECONDS), c.count(), Double::sum);
            }
        }
        if (lastAt >= 0) {
            double seconds = Math.max(1, now - lastAt) / 1000.0;
            Map<Double, Double> delta = new TreeMap<>();
            buckets.forEach((bound, count) -> delta.put(bound, count - lastBuckets.getOrDefault(bound, 0.0)));
            double total = requests - lastRequests;
            points.addLast(new Point(
                    now,
                    total / seconds,
                    (errors - lastErrors) / seconds,
                    (limited - lastLimited) / seconds,
                    quantile(delta, 0.5),
                    quantile(delta, 0.99)));
            while (points.size() > capacity) {
                points.removeFirst();
            }
        }
        lastAt = now;
        lastRequests = requests;
        lastErrors = errors;
        lastLimited = limited;
        lastBuckets = buckets;
    }

    /** The {@code q} quantile of cumulative bucket counts, linear within a bucket; {@code NaN} when empty. */
    static double quantile(Map<Double, Double> cumulative, double q) {
        if (cumulative.isEmpty()) {
            return Double.NaN;
        }
        double total = 0;
        for (double c : cumulative.values()) {
            total = Math.max(total, c);
        }
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double prevBound = 0;
        double prevCount = 0;
        for (Map.Entry<Double, Double> e : cumulative.entrySet()) {
            if (e.getValue() >= rank) {
                double inBucket = e.getValue() - prevCount;
                double frac = inBucket <= 0 ? 1 : (rank - prevCount) / inBucket;
                return prevBound + (e.getKey() - prevBound) * frac;
            }
            prevBound = e.getKey();
            prevCount = e.getValue();
        }
        return prevBound;
    }

    /** The points as JSON-ready maps. */
    public List<Map<String, Object>> pointsAsMaps() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Point p : points()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("t", p.epochMillis());
            m.put("rps", round(p.requestRate()));
            m.put("errors", round(p.errorRate()));
            m.put("limited", round(p.limitedRate()));
            m.put("p50", round(p.p50()));
            m.put("p99", round(p.p99()));
            out.add(m);
        }
        return out;
    }

    private static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : v;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
