package dev.torii.maintenance.internal;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The maintenance state shared by replicas through Redis: one string key holds it (so a replica that starts, or comes
 * back after an outage, reads it) and a pub/sub channel of the same name announces each change (so every replica
 * switches as soon as the message arrives, well within a second).
 *
 * <h2>Design</h2>
 * Two Lettuce connections, both asynchronous: one for {@code GET}/{@code SET}/{@code PUBLISH}, one subscribed to the
 * channel (a subscribed connection takes no other commands). Lettuce reconnects both by itself and re-subscribes; what
 * it cannot do is replay messages published while we were away, so {@link #tick()} (run by the switch's scheduler
 * thread every poll interval) watches both connections and, once they are open again after an outage, resyncs: it
 * writes our state when it changed locally during the outage (the newest decision wins), else reads the key. A missing
 * key (a Redis restarted without persistence) is seeded with our state, unless another replica wrote it first
 * ({@code SET NX}). While Redis is unreachable the last known state
 * stays in force; the outage and the recovery are logged once each.
 *
 * <p>Nothing here blocks: commands return futures completed on Lettuce's own threads, whose callbacks only hand a
 * value to {@code onRemote}. Torii's event loops are never involved. Thread-safe.
 */
public final class RedisSwitch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisSwitch.class);

    private final String host;
    private final int port;
    private final String key;
    private final Duration timeout;
    private final Supplier<String> localState;
    private final Consumer<String> onRemote;
    private final ClientResources resources;
    private final RedisClient client;
    private final RedisURI uri;
    private final AtomicBoolean connecting = new AtomicBoolean();
    private final AtomicBoolean syncing = new AtomicBoolean();
    private final AtomicLong outages = new AtomicLong();
    private volatile StatefulRedisConnection<String, String> commands;
    private volatile StatefulRedisPubSubConnection<String, String> pubsub;
    private volatile boolean connected;
    private volatile boolean needsSync = true;
    private volatile boolean localChangePending;
    private volatile boolean everConnected;
    private volatile boolean reportedDown;
    private volatile boolean closed;

    /**
     * @param localState the state to write (on a local change, or to seed an empty key)
     * @param onRemote receives the key's value when another replica changed it; called on a Lettuce thread
     */
    public RedisSwitch(
            String host,
            int port,
            String key,
            Duration reconnectDelay,
            Duration timeout,
            Supplier<String> localState,
            Consumer<String> onRemote) {
        this.host = host;
        this.port = port;
        this.key = key;
        this.timeout = timeout;
        this.localState = localState;
        // Once closed (a reload moved the switch to another key or server), a late message or read is not applied.
        this.onRemote = value -> {
            if (!closed) {
                onRemote.accept(value);
            }
        };
        this.resources = DefaultClientResources.builder()
                .ioThreadPoolSize(1)
                .computationThreadPoolSize(1)
                .reconnectDelay(Delay.constant(reconnectDelay))
                .build();
        this.uri = RedisURI.builder()
                .withHost(host)
                .withPort(port)
                .withTimeout(timeout)
                .build();
        this.client = RedisClient.create(resources, uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                // Fail fast while disconnected instead of queueing: tick() resyncs once the connection is back.
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(timeout))
                .build());
    }

    /** The key (and channel) name. */
    public String key() {
        return key;
    }

    /** Whether both connections are open and the last sync succeeded. */
    public boolean connected() {
        return connected;
    }

    /** How many times Redis became unreachable (or was at start). */
    public long outages() {
        return outages.get();
    }

    /** Writes the local state to the key and announces it; when Redis is away, it is written on the next resync. */
    public void publish() {
        localChangePending = true;
        if (!connected) {
            return;
        }
        write().whenComplete((v, e) -> {
            if (e != null) {
                needsSync = true; // localChangePending stays set: the resync writes it
                down("writing the maintenance state failed: " + e);
            }
        });
    }

    /** Connects when not connected yet, notices outages and resyncs after one. Called by the scheduler thread. */
    public void tick() {
        if (closed) {
            return;
        }
        var c = commands;
        var p = pubsub;
        if (c == null || p == null) {
            connect();
            return;
        }
        if (!c.isOpen() || !p.isOpen()) {
            down("connection lost");
            return;
        }
        if (needsSync && syncing.compareAndSet(false, true)) {
            sync().whenComplete((v, e) -> {
                syncing.set(false);
                if (e != null) {
                    down("resync failed: " + e);
                } else {
                    needsSync = false;
                    up();
                }
            });
        }
    }

    private void connect() {
        if (!connecting.compareAndSet(false, true)) {
            return;
        }
        var cf = client.connectAsync(StringCodec.UTF8, uri).toCompletableFuture();
        var pf = client.connectPubSubAsync(StringCodec.UTF8, uri).toCompletableFuture();
        CompletableFuture.allOf(cf, pf)
                .thenCompose(v -> {
                    var p = pf.join();
                    p.addListener(new RedisPubSubAdapter<>() {
                        @Override
                        public void message(String channel, String message) {
                            // A change made here during an outage is newer than what a replica announces while
                            // resyncing (its seed): ours is written by our own resync, which it will hear.
                            if (key.equals(channel) && !(localChangePending && needsSync)) {
                                onRemote.accept(message);
                            }
                        }
                    });
                    return p.async().subscribe(key).toCompletableFuture();
                })
                .whenComplete((v, e) -> {
                    if (e != null || closed) {
                        cf.thenAccept(StatefulRedisConnection::closeAsync);
                        pf.thenAccept(StatefulRedisPubSubConnection::closeAsync);
                        connecting.set(false);
                        if (e != null) {
                            down("cannot connect: " + rootMessage(e));
                        }
                        return;
                    }
                    commands = cf.join();
                    pubsub = pf.join();
                    needsSync = true;
                    connecting.set(false);
                    tick();
                });
    }

    /** Reads the key (or writes ours when it changed locally meanwhile, or when the key is missing). */
    private CompletableFuture<Void> sync() {
        if (localChangePending) {
            return write();
        }
        var async = commands.async();
        return async.get(key).toCompletableFuture().thenCompose(value -> {
            if (value != null) {
                onRemote.accept(value);
                return CompletableFuture.completedFuture(null);
            }
            // Seed the missing key, but only if it is still missing: another replica may have just written it.
            String ours = localState.get();
            return async.set(key, ours, SetArgs.Builder.nx())
                    .toCompletableFuture()
                    .thenCompose(ok -> {
                        if ("OK".equals(ok)) {
                            return async.publish(key, ours)
                                    .toCompletableFuture()
                                    .thenAccept(n -> {});
                        }
                        return async.get(key).toCompletableFuture().thenAccept(v -> {
                            if (v != null) {
                                onRemote.accept(v);
                            }
                        });
                    });
        });
    }

    private CompletableFuture<Void> write() {
        String value = localState.get();
        var async = commands.async();
        return async.set(key, value)
                .thenCompose(ok -> async.publish(key, value))
                .toCompletableFuture()
                .thenAccept(receivers -> localChangePending = !value.equals(localState.get()));
    }

    private void up() {
        if (!connected) {
            connected = true;
            if (reportedDown) {
                log.warn("maintenance: Redis {}:{} reachable again; resynced key '{}'", host, port, key);
            } else if (!everConnected) {
                log.info("maintenance: shared through Redis {}:{} key '{}'", host, port, key);
            }
            everConnected = true;
            reportedDown = false;
        }
    }

    private void down(String why) {
        needsSync = true;
        boolean wasUp = connected;
        connected = false;
        if (wasUp || !reportedDown) {
            reportedDown = true;
            outages.incrementAndGet();
            log.warn(
                    "maintenance: Redis {}:{} unreachable ({}); keeping the last known state ({}) until it is back",
                    host,
                    port,
                    why,
                    localState.get());
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    /** Closes both connections and the client's threads (asynchronously: never waits). */
    @Override
    public void close() {
        closed = true;
        // Closes both connections too.
        client.shutdownAsync(0, timeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((v, e) -> resources.shutdown(0, timeout.toMillis(), TimeUnit.MILLISECONDS));
    }
}
