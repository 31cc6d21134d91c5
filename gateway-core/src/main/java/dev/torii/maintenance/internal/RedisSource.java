package dev.torii.maintenance.internal;

import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis source of the maintenance switch: where the switch is shared across replicas (a key holding the state, a
 * pub/sub channel announcing each change) and the {@link RedisSwitch} connections to it. A reload may move it to
 * another server or key ({@link #moveTo}): new connections open, the old ones close, and the outage count carries
 * over so it never goes down. The state's text is {@code on} or {@code off}, then {@code  routes=a,b} when routes are
 * on ({@link #encode}, {@link #decode}).
 *
 * <p>Thread-safe: the connections are swapped by one thread at a time (the switch's lock); the rest may be called from
 * any thread.
 */
public final class RedisSource implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisSource.class);

    /** Where the switch is shared: the Redis server, the key (and channel), and the connections' timing. */
    public record Target(String host, int port, String key, Duration reconnectDelay, Duration timeout) {
        @Override
        public String toString() {
            return host + ":" + port + " key '" + key + "'";
        }
    }

    /** A state read from Redis: the switch and the routes switched on one by one. */
    public record State(boolean on, Set<String> routes) {}

    private final Supplier<String> localState;
    private final Consumer<String> onRemote;
    private volatile Target target;
    private volatile RedisSwitch connections;
    /** Outages of the connections a reload replaced, so the counter never goes down. */
    private final AtomicLong outagesBefore = new AtomicLong();

    /**
     * The source of {@code target} (or none: {@code null}), not connected yet.
     *
     * @param localState the switch's state as text, written on a local change or to seed an empty key
     * @param onRemote receives the key's value when another replica changed it; called on a Lettuce thread
     */
    public RedisSource(Target target, Supplier<String> localState, Consumer<String> onRemote) {
        this.localState = localState;
        this.onRemote = onRemote;
        this.target = target;
        this.connections = connect(target);
    }

    private RedisSwitch connect(Target t) {
        return t == null
                ? null
                : new RedisSwitch(t.host(), t.port(), t.key(), t.reconnectDelay(), t.timeout(), localState, onRemote);
    }

    /** Where the switch is shared, or {@code null} when it is not. */
    public Target target() {
        return target;
    }

    /** Whether the switch is shared through Redis. */
    public boolean inUse() {
        return connections != null;
    }

    /** Whether the connections to Redis are up now. */
    public boolean connected() {
        RedisSwitch c = connections;
        return c != null && c.connected();
    }

    /** Times the connection to Redis was lost, over every target this source had. */
    public long outages() {
        RedisSwitch c = connections;
        return outagesBefore.get() + (c == null ? 0 : c.outages());
    }

    /** Writes the local state to the key and announces it (asynchronously); nothing when not shared. */
    public void publish() {
        RedisSwitch c = connections;
        if (c != null) {
            c.publish();
        }
    }

    /** Connects, reconnects or resyncs as needed (the switch's poll thread calls it every interval). */
    public void tick() {
        RedisSwitch c = connections;
        if (c != null) {
            c.tick();
        }
    }

    /**
     * Shares the switch through {@code next} (or not at all: {@code null}) from now on, when it differs from the
     * current target (logged): new connections, the old ones closed asynchronously. {@code started}: connect now (as a
     * tick does), else on the first {@link #tick()}.
     *
     * @return whether the target moved
     */
    public boolean moveTo(Target next, boolean started) {
        Target before = target;
        if (java.util.Objects.equals(before, next)) {
            return false;
        }
        log.info(
                "maintenance: shared through Redis {} from now on (was {})",
                next == null ? "none" : next,
                before == null ? "none" : before);
        RedisSwitch replaced = connections;
        target = next;
        RedisSwitch fresh = connect(next);
        connections = fresh;
        if (replaced != null) {
            outagesBefore.addAndGet(replaced.outages());
            replaced.close(); // asynchronous: never waits for Redis
        }
        if (fresh != null && started) {
            fresh.tick(); // connects now; the poll thread's tick looks after it from then on
        }
        return true;
    }

    /** Closes the connections (asynchronously). */
    @Override
    public void close() {
        RedisSwitch c = connections;
        if (c != null) {
            c.close();
        }
    }

    /** The text of a state as written to Redis. */
    public static String encode(boolean on, Set<String> routes) {
        return (on ? "on" : "off") + (routes.isEmpty() ? "" : " routes=" + String.join(",", new TreeSet<>(routes)));
    }

    /** The state {@code value} holds, or {@code null} (logged) when it is not one. */
    public static State decode(String value) {
        String v = value.strip();
        int space = v.indexOf(' ');
        String head = space < 0 ? v : v.substring(0, space);
        Set<String> routes = Set.of();
        if (space >= 0) {
            String rest = v.substring(space + 1).strip();
            if (!rest.startsWith("routes=")) {
                log.warn("maintenance: ignoring Redis value '{}' (expected: on|off [routes=a,b])", value);
                return null;
            }
            routes = Set.copyOf(Arrays.stream(rest.substring("routes=".length()).split(","))
                    .map(String::strip)
                    .filter(s -> !s.isEmpty())
                    .toList());
        }
        if (!head.equals("on") && !head.equals("off")) {
            log.warn("maintenance: ignoring Redis value '{}' (expected: on|off [routes=a,b])", value);
            return null;
        }
        return new State(head.equals("on"), routes);
    }
}
