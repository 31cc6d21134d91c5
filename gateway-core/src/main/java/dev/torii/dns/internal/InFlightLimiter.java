package dev.torii.dns.internal;

import java.util.ArrayDeque;

/**
 * Caps the upstream queries in flight, with a bounded queue for the excess. A finished query hands its slot straight to
 * the oldest queued one, so a slot is never idle while something waits. One small lock guards the count and the queue;
 * it is taken only on cache misses, and tasks run outside it.
 */
public final class InFlightLimiter {
    /** What {@link #admit} decided. */
    public enum Admission {
        /** A slot was taken: the caller runs the task now and calls {@link #release()} when it is done. */
        RUN,
        /** No slot: the task was queued and will run (holding a slot) when one frees up. */
        QUEUED,
        /** No slot and no queue room (or queueing not allowed): nothing was taken. */
        REJECTED
    }

    private final int maxInFlight;
    private final int queueLimit;
    private final ArrayDeque<Runnable> queue = new ArrayDeque<>();
    private int running;

    /** At most {@code maxInFlight} tasks hold a slot; at most {@code queueLimit} wait for one. */
    public InFlightLimiter(int maxInFlight, int queueLimit) {
        this.maxInFlight = maxInFlight;
        this.queueLimit = queueLimit;
    }

    /**
     * Takes a slot for {@code task}, or queues it when {@code mayQueue} and the queue has room. The caller runs the task
     * itself on {@link Admission#RUN}; a queued task is run by the {@link #release()} that frees its slot.
     */
    public synchronized Admission admit(Runnable task, boolean mayQueue) {
        if (running < maxInFlight) {
            running++;
            return Admission.RUN;
        }
        if (mayQueue && queue.size() < queueLimit) {
            queue.add(task);
            return Admission.QUEUED;
        }
        return Admission.REJECTED;
    }

    /** Frees the caller's slot, running the oldest queued task in it (on this thread). */
    public void release() {
        Runnable next;
        synchronized (this) {
            next = queue.poll();
            if (next == null) {
                running--;
            }
        }
        if (next != null) {
            next.run();
        }
    }

    /** Slots held now. */
    public synchronized int running() {
        return running;
    }

    /** Tasks waiting now. */
    public synchronized int queued() {
        return queue.size();
    }
}
