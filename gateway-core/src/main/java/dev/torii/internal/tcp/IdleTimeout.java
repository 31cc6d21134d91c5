package dev.torii.internal.tcp;

import io.netty.channel.Channel;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The idle timeout of one proxied TCP connection: closes the client channel once no byte has come from either side for
 * the listener's idle timeout.
 *
 * <p>Kept by one re-armed timer rather than by an {@code IdleStateHandler}: that handler swaps every void write promise
 * for a real one with a listener (to see writes complete), a cost on each relayed buffer. A byte relayed is a byte read
 * on the other side, so reads on both channels ({@link #touch}) tell the same as reads and writes on the client's.
 *
 * <p>Confined to the client channel's event loop.
 */
final class IdleTimeout {
    private static final Logger log = LoggerFactory.getLogger(IdleTimeout.class);

    private final Channel client;
    private final Duration timeout;
    /** What log lines name (the connection). */
    private final Object owner;
    /** When a byte last came from either side. */
    private long lastReadNanos;

    private ScheduledFuture<?> timer;

    /** The timeout of {@code client}'s connection, which {@code owner} names in log lines; not started yet. */
    IdleTimeout(Channel client, Duration timeout, Object owner) {
        this.client = client;
        this.timeout = timeout;
        this.owner = owner;
    }

    /** Starts counting from now. */
    void start(long nowNanos) {
        lastReadNanos = nowNanos;
        timer = client.eventLoop().schedule(this::check, timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Something was read from either side just now. */
    void touch() {
        lastReadNanos = System.nanoTime();
    }

    /** Stops the timer (the connection closed); a no-op when stopped already or never started. */
    void stop() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void check() {
        if (!client.isActive()) {
            return;
        }
        long left = lastReadNanos + timeout.toNanos() - System.nanoTime();
        if (left > 0) {
            timer = client.eventLoop().schedule(this::check, left, TimeUnit.NANOSECONDS);
            return;
        }
        log.debug("{}: idle for {}; closing", owner, timeout);
        client.close();
    }
}
