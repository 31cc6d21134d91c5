package dev.torii.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a listener stops accepting without resetting a connection the kernel already completed: at shutdown (every
 * listener) and when a reload removes one. Closing a listening socket resets the connections still in its accept queue,
 * so the listener keeps accepting until a whole window passes without an accept, then closes. Each listener's
 * {@link AcceptCounter} counts its accepts; everything runs on the listener's event loop.
 */
final class ListenerDrain {
    private static final Logger log = LoggerFactory.getLogger(ListenerDrain.class);

    /**
     * While draining, a listener closes once its event loop ran a whole window of this length, on time, without
     * accepting a connection. Connections the kernel completed but Netty did not accept yet sit in the listen queue,
     * and closing a listening socket resets them: a client whose request was sent would see a reset. A fixed grace is
     * not enough, since a loop may be late by seconds (a cold JVM's first connections); a window in which the loop was
     * late does not count, and each accepted connection is served and drained like the ones open before. A quiet
     * window is confirmed after one more pass of the loop over its I/O (see {@link #nextWindow}).
     */
    static final long ACCEPT_QUIET_MILLIS = 100;

    /**
     * At most this many on-time windows of {@link #ACCEPT_QUIET_MILLIS} with accepts before a draining listener closes
     * anyway: clients that reconnect at once after {@code Connection: close} would otherwise keep it open until the
     * deadline. Late windows do not count, so a stalled loop still empties its queue first.
     */
    static final int ACCEPT_MAX_WINDOWS = 10;

    private ListenerDrain() {}

    /**
     * Closes listener {@code server} once its accept queue stays empty (or at {@code deadlineNanos}), completing
     * {@code closed} then: starts the quiet windows for it, on its loop: the accept count the first window starts
     * from is the loop's own (read from another thread, it could already include an accept the loop is still busy
     * with, and a window with no further accept would look quiet).
     */
    static void closeWhenQuiet(Channel server, long deadlineNanos, CompletableFuture<Void> closed) {
        AcceptCounter counter = server.pipeline().get(AcceptCounter.class);
        server.eventLoop()
                .execute(() ->
                        nextWindow(server, counter, counter.accepted, System.nanoTime(), 0, deadlineNanos, closed));
    }

    /**
     * Closes listener {@code server} once a window passes on time without an accept (or at the deadline).
     *
     * <p>A window without accepts is not enough: its check may run before the loop looked at the connections that
     * queued while it was busy. A loop that accepts also sets up the connections it hands to itself, inline, while it
     * handles its I/O (a cold JVM loads classes then, for hundreds of milliseconds); the connections that reach the
     * listen queue meanwhile are seen at its next I/O pass, but a check that fell due meanwhile runs first, as the
     * loop runs its tasks between two I/O passes. So a quiet window closes the listener only after a confirmation
     * scheduled from it: scheduled tasks are taken in at the start of a task run, so it runs after at least one more
     * I/O pass, which accepts whatever had queued by the time of the check.
     */
    private static void nextWindow(
            Channel server,
            AcceptCounter counter,
            long acceptedBefore,
            long checkedAt,
            int busyWindows,
            long deadlineNanos,
            CompletableFuture<Void> closed) {
        server.eventLoop()
                .schedule(
                        () -> {
                            long now = System.nanoTime();
                            boolean late = now - checkedAt > TimeUnit.MILLISECONDS.toNanos(3 * ACCEPT_QUIET_MILLIS);
                            long accepted = counter.accepted;
                            int busy = late ? busyWindows : busyWindows + 1;
                            if (busy >= ACCEPT_MAX_WINDOWS || now - deadlineNanos >= 0) {
                                closeListener(server, closed);
                            } else if (accepted == acceptedBefore && !late) {
                                confirmQuiet(server, counter, accepted, busy, deadlineNanos, closed);
                            } else {
                                nextWindow(server, counter, accepted, now, busy, deadlineNanos, closed);
                            }
                        },
                        ACCEPT_QUIET_MILLIS,
                        TimeUnit.MILLISECONDS);
    }

    /**
     * After a quiet window of {@link #nextWindow}: once the loop handled its I/O again, closes listener
     * {@code server} if it accepted nothing meanwhile, else goes on with another window. On the listener's loop.
     */
    private static void confirmQuiet(
            Channel server,
            AcceptCounter counter,
            long acceptedBefore,
            int busyWindows,
            long deadlineNanos,
            CompletableFuture<Void> closed) {
        // Scheduled, not executed: a task executed now would run in this same task run, before the next I/O pass.
        server.eventLoop()
                .schedule(
                        () -> {
                            if (counter.accepted == acceptedBefore) {
                                closeListener(server, closed);
                            } else {
                                log.debug(
                                        "drain: listener {} accepted {} queued connection(s) after a quiet window",
                                        server.localAddress(),
                                        counter.accepted - acceptedBefore);
                                nextWindow(
                                        server,
                                        counter,
                                        counter.accepted,
                                        System.nanoTime(),
                                        busyWindows,
                                        deadlineNanos,
                                        closed);
                            }
                        },
                        1,
                        TimeUnit.MILLISECONDS);
    }

    private static void closeListener(Channel server, CompletableFuture<Void> closed) {
        log.debug("drain: closing listener {}", server.localAddress());
        server.close().addListener(f -> closed.complete(null));
    }

    /** Counts the connections a listener accepted, on its event loop (for {@link #nextWindow}). */
    static final class AcceptCounter extends io.netty.channel.ChannelInboundHandlerAdapter {
        long accepted;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            accepted++;
            ctx.fireChannelRead(msg);
        }
    }
}
