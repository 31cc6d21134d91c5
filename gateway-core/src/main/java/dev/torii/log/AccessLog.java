package dev.torii.log;

import dev.torii.AttributeKey;
import dev.torii.Exchange;
import dev.torii.ExchangeLog;
import dev.torii.Hook;
import dev.torii.tcp.TcpConnectionLog;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.io.BufferedWriter;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The access log: a {@link dev.torii.Phase#LOG} hook that writes one line per finished exchange, as JSON (the default)
 * or nginx's combined format, to a file or to standard output.
 *
 * <pre>
 * event loop: onLog ─▶ AccessLogEntry ─▶ bounded queue ──(full: dropped, counted)
 *                                            │
 * writer thread:                             └─▶ format ─▶ buffered file/stdout (flushed when the queue is empty)
 * </pre>
 *
 * <p>Nothing here blocks an event loop: the hook only builds an {@link AccessLogEntry} and offers it to a bounded
 * queue; when the queue is full (the disk is slower than the traffic) the entry is dropped and counted
 * ({@link #dropped()}, {@code torii_access_log_dropped_total}). One daemon thread formats and writes.
 * {@link #reopen()} closes and reopens the file by its path (after logrotate moved it; the server calls it on
 * SIGUSR1).
 *
 * <p>Hooks add fields to an exchange's line with {@link #field}; a tracing hook puts the trace id under
 * {@link #TRACE_ID}. Thread-safe.
 */
public final class AccessLog implements Hook, MeterBinder, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AccessLog.class);

    /** The W3C trace id of the exchange, set by a tracing hook before the LOG phase; written as {@code traceId}. */
    public static final AttributeKey<String> TRACE_ID = AttributeKey.of("traceId", String.class);

    @SuppressWarnings("rawtypes")
    private static final AttributeKey<Map> FIELDS = AttributeKey.of("accessLogFields", Map.class);

    private static final AccessLogEntry STOP = new AccessLogEntry(
            new ExchangeLog(0, null, "", "", "", null, null, null, null, 0, null, 0, 0, -1, -1, -1, 0),
            null,
            null,
            null,
            null);
    private static final AccessLogEntry REOPEN_NUDGE = new AccessLogEntry(STOP.log(), null, null, null, null);

    private final AccessLogFormat format;
    private final Path path;
    /** {@link AccessLogEntry} and {@link TcpConnectionLog} items, formatted on the writer thread. */
    private final BlockingQueue<Object> queue;

    private final LongAdder dropped = new LongAdder();
    private final LongAdder written = new LongAdder();
    private final AtomicBoolean reopen = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread writerThread;
    private Writer out; // writer thread only (and the constructor)

    private AccessLog(Builder b) {
        this.format = b.format;
        this.path = b.path;
        this.queue = new ArrayBlockingQueue<>(b.queueCapacity);
        this.out = open(); // fails here, at start-up, when the file cannot be opened
        this.writerThread =
                Thread.ofPlatform().name("torii-access-log").daemon(true).unstarted(this::writeLoop);
        writerThread.start();
    }

    /** A builder: JSON lines to standard output, a queue of 8,192 entries. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Adds a field to {@code exchange}'s access-log line (JSON format only); a later value for the same name replaces
     * the earlier one. Call from a hook, on the exchange's event loop, in any phase before LOG.
     */
    @SuppressWarnings("unchecked")
    public static void field(Exchange exchange, String name, String value) {
        Objects.requireNonNull(name, "name");
        Map<String, String> fields = exchange.get(FIELDS);
        if (fields == null) {
            fields = new LinkedHashMap<>(4);
            exchange.set(FIELDS, fields);
        }
        fields.put(name, String.valueOf(value));
    }

    @Override
    public String name() {
        return "accessLog";
    }

    @Override
    @SuppressWarnings("unchecked")
    public void onLog(Exchange exchange) {
        String referer = null;
        String userAgent = null;
        try {
            referer = exchange.request().headers().get("referer");
            userAgent = exchange.request().headers().get("user-agent");
        } catch (RuntimeException e) {
            // An exchange that failed before its request view existed: the line goes without them.
        }
        Map<String, String> fields = exchange.get(FIELDS);
        log(new AccessLogEntry(
                exchange.log(),
                referer,
                userAgent,
                exchange.get(TRACE_ID),
                fields == null ? null : Map.copyOf(fields)));
    }

    @Override
    public void onRefused(ExchangeLog refused) {
        log(new AccessLogEntry(refused, null, null, null, null));
    }

    /**
     * Queues {@code entry} for writing; never blocks. Returns {@code false} when the queue was full (the entry is
     * dropped and counted) or the log is closed.
     */
    public boolean log(AccessLogEntry entry) {
        Objects.requireNonNull(entry, "entry");
        if (closed.get() || !queue.offer(entry)) {
            dropped.increment();
            return false;
        }
        return true;
    }

    /**
     * The connection log: one line per closed TCP listener connection, in this log's format (JSON with
     * {@code "type":"tcp"}, or nginx stream's default line in the combined format). Never blocks; a full queue drops
     * the line and counts it.
     */
    @Override
    public void onConnectionClosed(TcpConnectionLog connection) {
        if (closed.get() || !queue.offer(connection)) {
            dropped.increment();
        }
    }

    /** Asks the writer thread to close the file and open it again by its path (a no-op on standard output). */
    public void reopen() {
        reopen.set(true);
        queue.offer(REOPEN_NUDGE); // wakes the writer now; if the queue is full it wakes soon anyway
    }

    /** Entries dropped because the queue was full (or the log closed). */
    public long dropped() {
        return dropped.sum();
    }

    /** Lines written. */
    public long written() {
        return written.sum();
    }

    /** The file written, or {@code null} for standard output. */
    public Path path() {
        return path;
    }

    /** The line format. */
    public AccessLogFormat format() {
        return format;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        FunctionCounter.builder("torii.access.log.written", this, AccessLog::written)
                .description("Access-log lines written.")
                .register(registry);
        FunctionCounter.builder("torii.access.log.dropped", this, AccessLog::dropped)
                .description("Access-log entries dropped because the queue was full.")
                .register(registry);
    }

    /** Writes what is queued, closes the file and stops the writer thread; waits up to 5 s for it. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        while (!queue.offer(STOP)) {
            queue.poll(); // full: make room for the stop mark, dropping the oldest
            dropped.increment();
        }
        try {
            writerThread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void writeLoop() {
        List<Object> batch = new ArrayList<>(256);
        StringBuilder line = new StringBuilder(512);
        try {
            while (true) {
                Object first = queue.poll(1, TimeUnit.SECONDS);
                if (reopen.compareAndSet(true, false)) {
                    reopenNow();
                }
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, 255);
                boolean stop = false;
                for (Object e : batch) {
                    if (e == STOP) {
                        stop = true;
                        break;
                    }
                    if (e == REOPEN_NUDGE) {
                        continue;
                    }
                    line.setLength(0);
                    line.append(
                                    e instanceof TcpConnectionLog t
                                            ? AccessLogLines.format(format, t)
                                            : AccessLogLines.format(format, (AccessLogEntry) e))
                            .append('\n');
                    write(line);
                }
                batch.clear();
                if (stop) {
                    break;
                }
                if (queue.isEmpty()) {
                    flush();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            flush();
            if (path != null) {
                closeQuietly();
            }
        }
    }

    private void write(CharSequence line) {
        try {
            out.append(line);
            written.increment();
        } catch (IOException e) {
            dropped.increment();
            log.warn("access log: cannot write to {}: {}", path == null ? "stdout" : path, e.toString());
        }
    }

    private void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            log.warn("access log: cannot flush {}: {}", path == null ? "stdout" : path, e.toString());
        }
    }

    private void reopenNow() {
        if (path == null) {
            return;
        }
        flush();
        closeQuietly();
        try {
            out = open();
            log.info("access log reopened: {}", path);
        } catch (UncheckedIOException e) {
            // Keep logging somewhere rather than nowhere: the next reopen tries the file again.
            log.warn(
                    "access log: cannot reopen {} ({}); writing to stdout until the next reopen", path, e.getMessage());
            out = new OutputStreamWriter(new FileOutputStream(FileDescriptor.out), StandardCharsets.UTF_8);
        }
    }

    private void closeQuietly() {
        try {
            out.close();
        } catch (IOException e) {
            log.warn("access log: cannot close {}: {}", path, e.toString());
        }
    }

    private Writer open() {
        OutputStream os;
        if (path == null) {
            // Standard output by its descriptor: the access log is the process's output, not a diagnostic.
            os = new FileOutputStream(FileDescriptor.out);
        } else {
            try {
                os = Files.newOutputStream(
                        path, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new UncheckedIOException("access log: cannot open " + path + ": " + e.getMessage(), e);
            }
        }
        return new BufferedWriter(new OutputStreamWriter(os, StandardCharsets.UTF_8), 64 * 1024);
    }

    /** Builds an {@link AccessLog}; {@link #build()} opens the file and starts the writer thread. Not thread-safe. */
    public static final class Builder {
        private AccessLogFormat format = AccessLogFormat.JSON;
        private Path path;
        private int queueCapacity = 8_192;

        private Builder() {}

        /** The line format; {@link AccessLogFormat#JSON} by default. */
        public Builder format(AccessLogFormat format) {
            this.format = Objects.requireNonNull(format, "format");
            return this;
        }

        /** The file to append to (created if missing); {@code null} (the default) for standard output. */
        public Builder path(Path path) {
            this.path = path;
            return this;
        }

        /** Entries waiting for the writer at most; more are dropped and counted. Default 8,192. */
        public Builder queueCapacity(int queueCapacity) {
            this.queueCapacity = queueCapacity;
            return this;
        }

        /**
         * Opens the file and starts the writer thread.
         *
         * @throws IllegalArgumentException when the queue capacity is not positive
         * @throws UncheckedIOException when the file cannot be opened for appending
         */
        public AccessLog build() {
            if (queueCapacity < 1) {
                throw new IllegalArgumentException("queueCapacity: " + queueCapacity + " (expected: > 0)");
            }
            return new AccessLog(this);
        }
    }
}
