package dev.torii.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty reports a {@link ByteBuf} leak while it runs.
 *
 * <p>Netty finds a leak only when a tracked buffer has been garbage-collected without {@code release()} and some
 * thread allocates a tracked buffer afterwards. So after each test class this extension collects garbage a few times,
 * allocates a few buffers to let the detector look, and fails the class if Netty reported anything. Reports arrive
 * through {@link ByteBufUtil#setLeakListener}, which works whatever order Netty's classes were initialized in (a
 * custom {@code ResourceLeakDetectorFactory} would have to be installed before the first {@code ByteBuf} exists).
 *
 * <p>Registered for every test class of a module by JUnit's extension auto-detection
 * ({@code META-INF/services/org.junit.jupiter.api.extension.Extension} and {@code junit-platform.properties} in this
 * test jar). Surefire runs with {@code -Dio.netty.leakDetection.level=paranoid}, so every buffer is tracked and every
 * report carries the places the buffer was touched. A leak found during class B may come from class A if A's garbage
 * survived A's check; the report names the buffer's access points either way.
 *
 * <p>Thread-safe: Netty calls the listener from whichever thread allocates.
 */
public final class NettyLeakListener implements BeforeAllCallback, AfterAllCallback {
    private static final List<String> LEAKS = new ArrayList<>();

    static {
        ByteBufUtil.setLeakListener((resourceType, records) -> {
            synchronized (LEAKS) {
                LEAKS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected."
                        + (records.isEmpty() ? " (no access records)" : records));
            }
        });
    }

    /** Needed by the JUnit service loader. */
    public NettyLeakListener() {}

    @Override
    public void beforeAll(ExtensionContext context) {
        if (ResourceLeakDetector.getLevel().ordinal() < ResourceLeakDetector.Level.PARANOID.ordinal()) {
            // Not paranoid (e.g. run from an IDE without the surefire argLine): most leaks would go unseen.
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        List<String> found = collect(leak -> true);
        if (!found.isEmpty()) {
            throw new AssertionError(found.size() + " Netty ByteBuf leak(s) reported while " + context.getDisplayName()
                    + " ran:\n" + String.join("\n\n", found));
        }
    }

    /**
     * Runs the garbage collector and lets Netty's detector look at what it freed, then removes and returns the leak
     * reports that match {@code which}. A test of this fixture uses it to take its deliberate leak out of the record.
     */
    public static List<String> collect(Predicate<String> which) {
        // The reference handler enqueues a collected buffer some time after the collection, so one that is about to
        // be reported may still be on its way: keep collecting until one matches or 3 s have passed.
        long deadline = System.nanoTime() + 3_000_000_000L;
        List<String> matched = new ArrayList<>();
        do {
            awaitGarbageCollection();
            for (int i = 0; i < 16; i++) {
                // Each tracked allocation makes the detector poll its reference queue.
                PooledByteBufAllocator.DEFAULT.heapBuffer(1).release();
            }
            synchronized (LEAKS) {
                LEAKS.removeIf(leak -> which.test(leak) && matched.add(leak));
            }
        } while (matched.isEmpty() && System.nanoTime() < deadline);
        return matched;
    }

    private static void awaitGarbageCollection() {
        var sentinel = new WeakReference<>(new Object());
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (sentinel.get() != null && System.nanoTime() < deadline) {
            System.gc();
        }
        // The reference handler thread enqueues cleared references shortly after the collection.
        Thread.onSpinWait();
    }
}
