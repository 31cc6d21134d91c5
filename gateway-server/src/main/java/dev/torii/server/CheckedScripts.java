package dev.torii.server;

import dev.torii.dns.DnsCache;
import dev.torii.maintenance.MaintenanceMode;
import dev.torii.ratelimit.RateLimits;
import dev.torii.script.ScriptRuntime;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The one JavaScript runtime of {@code torii run}: made on demand while the configuration is checked (the first
 * plugin it attaches asks for it: {@link #get()}, handed to
 * {@link dev.torii.server.config.ConfigLoader#load(java.nio.file.Path, Supplier)}), then handed to
 * {@link ToriiServer#start(dev.torii.server.config.ServerConfig, java.nio.file.Path, CheckedScripts)}, which serves
 * the plugins with it instead of starting a second engine. A configuration without plugins never asks, and no engine
 * starts at all.
 *
 * <p>The gateway's maintenance switch and rate-limit policies do not exist yet when the engine is made: the runtime
 * reads them through suppliers that {@link #serve} fills in before any exchange runs a hook.
 *
 * <p>Thread-safe. Whoever made it closes it unless {@link ToriiServer#start} took it over (it then closes the runtime
 * with the server); {@link #close()} after a hand-over does nothing.
 */
public final class CheckedScripts implements Supplier<ScriptRuntime>, AutoCloseable {
    private final AtomicReference<MaintenanceMode> maintenance = new AtomicReference<>();
    private final AtomicReference<RateLimits> rateLimits = new AtomicReference<>();
    private final AtomicReference<DnsCache> dns = new AtomicReference<>();
    private ScriptRuntime runtime;
    private boolean handedOver;

    /** No engine yet: {@link #get()} makes it. */
    public CheckedScripts() {}

    /** The runtime, made on the first call (it logs whether the JavaScript JIT is on). */
    @Override
    public synchronized ScriptRuntime get() {
        if (handedOver) {
            throw new IllegalStateException("the script runtime was handed to a server already");
        }
        if (runtime == null) {
            runtime = ScriptRuntime.builder()
                    .maintenance(maintenance::get)
                    .rateLimits(rateLimits::get)
                    .dnsCache(dns::get)
                    .build();
        }
        return runtime;
    }

    /** Whether the engine was made (a plugin asked for it). */
    public synchronized boolean started() {
        return runtime != null;
    }

    /**
     * Hands the runtime over to serve: binds the gateway's switch and policies, starts the file watcher when
     * {@code watch} is not null, and makes the runtime if no plugin was checked with it. Called once, by
     * {@link ToriiServer#start}.
     */
    synchronized ScriptRuntime serve(
            MaintenanceMode maintenance, RateLimits rateLimits, DnsCache dnsCache, Duration watch) {
        this.maintenance.set(maintenance);
        this.dns.set(dnsCache);
        this.rateLimits.set(rateLimits);
        ScriptRuntime r = get();
        handedOver = true;
        if (watch != null) {
            r.watch(watch);
        }
        return r;
    }

    /** The policies a configuration reload swapped in: {@code ex.limit} calls read them from now on. */
    void rateLimits(RateLimits rateLimits) {
        this.rateLimits.set(rateLimits);
    }

    /** Closes the engine unless a server took it over (or none was made). */
    @Override
    public synchronized void close() {
        if (!handedOver && runtime != null) {
            runtime.close();
            runtime = null;
        }
    }
}
