package dev.torii.script.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.torii.script.SharedDict;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * The shared dictionaries of one runtime, created on first use and bounded twice: entries per zone, and the number of
 * zones (so a script that makes zone names from request data cannot grow memory without bound).
 *
 * <p>Each zone is a Caffeine cache with a per-entry expiry. Entries carry their absolute expiry time, so that
 * {@code incr} on an existing key keeps the TTL it was created with (as OpenResty's {@code ngx.shared.DICT:incr}
 * does). Cache maintenance runs on the calling thread, which keeps eviction counts exact for tests and costs the
 * event loop only amortised work. Thread-safe.
 */
public final class SharedZones {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private final Map<String, Zone> zones = new ConcurrentHashMap<>();
    private final Map<String, Long> capacities;
    private final long defaultCapacity;
    private final int maxZones;
    private final TimeSource time;
    private final LongAdder evictions = new LongAdder();

    public SharedZones(Map<String, Long> capacities, long defaultCapacity, int maxZones, TimeSource time) {
        this.capacities = Map.copyOf(capacities);
        this.defaultCapacity = defaultCapacity;
        this.maxZones = maxZones;
        this.time = time;
    }

    /** The zone {@code name}, created on first use. */
    public SharedDict zone(String name) {
        Zone z = zones.get(name);
        if (z != null) {
            return z;
        }
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(
                    "shared zone: '" + name + "' (expected: 1-64 letters, digits, '_', '.' or '-')");
        }
        synchronized (zones) {
            if (zones.size() >= maxZones && !zones.containsKey(name)) {
                throw new IllegalStateException("shared zone '" + name + "': " + maxZones
                        + " zones exist already (expected: at most " + maxZones + "; use fewer zone names)");
            }
            return zones.computeIfAbsent(name, n -> new Zone(n, capacities.getOrDefault(n, defaultCapacity)));
        }
    }

    /** Entries evicted from every zone. */
    public long evictions() {
        return evictions.sum();
    }

    /**
     * A stored value and the ticker time it expires at ({@link Long#MAX_VALUE}: never). A number made or changed by
     * {@code incr} is held in a {@link Counter}, which later {@code incr}s update in place.
     */
    private record Entry(Object value, long expiresAt) {
        Object visible() {
            return value instanceof Counter c ? c.get() : value;
        }
    }

    /**
     * A number that {@code incr} changes in place: the common case of a counter (a rate-limit window) then costs a
     * cache read and a CAS instead of a cache write, which with per-entry expiry goes through Caffeine's write buffer
     * and timer wheel (it showed in profiles). The entry keeps its expiry either way.
     */
    private static final class Counter {
        private final AtomicLong bits;

        Counter(double value) {
            this.bits = new AtomicLong(Double.doubleToRawLongBits(value));
        }

        double get() {
            return Double.longBitsToDouble(bits.get());
        }

        double add(double delta) {
            while (true) {
                long cur = bits.get();
                double next = Double.longBitsToDouble(cur) + delta;
                if (bits.compareAndSet(cur, Double.doubleToRawLongBits(next))) {
                    return next;
                }
            }
        }
    }

    private final class Zone implements SharedDict {
        private final String name;
        private final long capacity;
        private final Cache<String, Entry> cache;
        private final LongAdder zoneEvictions = new LongAdder();

        Zone(String name, long capacity) {
            this.name = name;
            this.capacity = capacity;
            this.cache = Caffeine.newBuilder()
                    .maximumSize(capacity)
                    .ticker(time::nanos)
                    .executor(Runnable::run)
                    .expireAfter(new Expiry<String, Entry>() {
                        @Override
                        public long expireAfterCreate(String key, Entry e, long now) {
                            return remaining(e, now);
                        }

                        @Override
                        public long expireAfterUpdate(String key, Entry e, long now, long current) {
                            return remaining(e, now);
                        }

                        @Override
                        public long expireAfterRead(String key, Entry e, long now, long current) {
                            return current;
                        }
                    })
                    .evictionListener((String k, Entry v, RemovalCause cause) -> {
                        if (cause == RemovalCause.SIZE) {
                            zoneEvictions.increment();
                            evictions.increment();
                        }
                    })
                    .build();
        }

        private static long remaining(Entry e, long now) {
            return e.expiresAt == Long.MAX_VALUE ? Long.MAX_VALUE : Math.max(0, e.expiresAt - now);
        }

        private long expiry(Duration ttl) {
            if (ttl == null || ttl.isZero()) {
                return Long.MAX_VALUE;
            }
            if (ttl.isNegative()) {
                throw new IllegalArgumentException("ttl: " + ttl + " (expected: >= 0)");
            }
            return time.nanos() + ttl.toNanos();
        }

        private static Object checkValue(Object value) {
            return switch (value) {
                case String s -> s;
                case Boolean b -> b;
                case Number n -> n.doubleValue();
                case null -> throw new IllegalArgumentException("value: null (expected: a string, number or boolean)");
                default ->
                    throw new IllegalArgumentException("value of type "
                            + value.getClass().getSimpleName() + " (expected: a string, number or boolean)");
            };
        }

        private static String checkKey(String key) {
            if (key == null || key.isEmpty() || key.length() > 1024) {
                throw new IllegalArgumentException("key: '" + key + "' (expected: 1-1024 characters)");
            }
            return key;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Object get(String key) {
            Entry e = cache.getIfPresent(checkKey(key));
            return e == null ? null : e.visible();
        }

        @Override
        public void set(String key, Object value, Duration ttl) {
            cache.put(checkKey(key), new Entry(checkValue(value), expiry(ttl)));
        }

        @Override
        public boolean add(String key, Object value, Duration ttl) {
            var fresh = new Entry(checkValue(value), expiry(ttl));
            return cache.asMap().putIfAbsent(checkKey(key), fresh) == null;
        }

        @Override
        public double incr(String key, double delta, Duration ttl) {
            Entry present = cache.getIfPresent(checkKey(key));
            if (present != null && present.value instanceof Counter c) {
                // An incr racing with the entry's expiry or eviction may land on the old entry; a counter window
                // that just ended loses it, as it would a moment later.
                return c.add(delta);
            }
            long expiresAt = expiry(ttl);
            double[] result = new double[1];
            cache.asMap().compute(key, (k, old) -> {
                if (old == null) {
                    result[0] = delta;
                    return new Entry(new Counter(delta), expiresAt);
                }
                if (old.value instanceof Counter c) {
                    result[0] = c.add(delta);
                    return old;
                }
                if (!(old.value instanceof Double d)) {
                    throw new IllegalArgumentException("incr '" + k + "': the value is "
                            + old.value.getClass().getSimpleName() + " (expected: a number)");
                }
                result[0] = d + delta;
                return new Entry(new Counter(d + delta), old.expiresAt);
            });
            return result[0];
        }

        @Override
        public boolean delete(String key) {
            return cache.asMap().remove(checkKey(key)) != null;
        }

        @Override
        public long size() {
            return cache.estimatedSize();
        }

        @Override
        public long capacity() {
            return capacity;
        }

        @Override
        public long evictions() {
            return zoneEvictions.sum();
        }
    }
}
