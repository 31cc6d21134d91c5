package dev.torii.server.internal;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads when the configuration file changes: a {@link WatchService} on the file's directory (editors and Kubernetes
 * ConfigMaps replace the file by a rename, so the directory is what is watched, for the file's name), and a debounce:
 * the reload runs once the file has had no event for the debounce time, so a file written in several steps is read
 * once, finished. A reload of a broken file is refused like any other (logged, the running configuration stays).
 * The files the configuration names reload by themselves: plugins ({@code plugins.watch}), certificates
 * ({@code tls.reloadInterval}), IP list files ({@code access.reloadInterval}), the maintenance flag file.
 *
 * <p>Thread-safe: one daemon thread waits for events, one scheduler thread runs the reloads (off every event loop).
 */
public final class ConfigWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ConfigWatcher.class);

    private final Path file;
    private final Duration debounce;
    private final Runnable reload;
    private final WatchService watcher;
    private final ScheduledExecutorService scheduler;
    private final Thread thread;
    private ScheduledFuture<?> pending;

    private ConfigWatcher(Path file, Duration debounce, Runnable reload) throws IOException {
        this.file = file.toAbsolutePath().normalize();
        this.debounce = debounce;
        this.reload = reload;
        this.watcher = FileSystems.getDefault().newWatchService();
        this.file
                .getParent()
                .register(
                        watcher,
                        StandardWatchEventKinds.ENTRY_CREATE,
                        StandardWatchEventKinds.ENTRY_MODIFY,
                        StandardWatchEventKinds.ENTRY_DELETE);
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "torii-config-reload");
            t.setDaemon(true);
            return t;
        });
        this.thread = new Thread(this::watch, "torii-config-watch");
        this.thread.setDaemon(true);
    }

    /**
     * Starts watching {@code file}; {@code reload} runs (on a thread of the watcher's) {@code debounce} after the last
     * change.
     *
     * @throws IOException when the directory cannot be watched
     */
    public static ConfigWatcher start(Path file, Duration debounce, Runnable reload) throws IOException {
        ConfigWatcher w = new ConfigWatcher(file, debounce, reload);
        w.thread.start();
        log.info("watching {} for changes (reload {} after the last one)", w.file, debounce);
        return w;
    }

    private void watch() {
        Path name = file.getFileName();
        try {
            while (true) {
                WatchKey key = watcher.take();
                boolean ours = false;
                for (WatchEvent<?> e : key.pollEvents()) {
                    // OVERFLOW has no context: events were lost, so the file may have changed.
                    ours |= e.kind() == StandardWatchEventKinds.OVERFLOW || name.equals(e.context());
                }
                key.reset();
                if (ours) {
                    changed();
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // closed
        }
    }

    private synchronized void changed() {
        if (pending != null) {
            pending.cancel(false);
        }
        pending = scheduler.schedule(this::runReload, debounce.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void runReload() {
        log.info("{} changed: reloading", file);
        try {
            reload.run();
        } catch (RuntimeException e) {
            log.error("reload after a change of {} failed", file, e);
        }
    }

    @Override
    public void close() {
        try {
            watcher.close();
        } catch (IOException e) {
            log.debug("closing the watch service of {}: {}", file, e.toString());
        }
        thread.interrupt();
        scheduler.shutdownNow();
    }
}
