package dev.torii.ratelimit;

import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.distributed.proxy.AsyncProxyManager;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Redis server that holds the buckets of {@link RateLimitPolicy.Store#REDIS} policies, shared by every gateway that
 * points at it: Bucket4j's compare-and-swap protocol over one Lettuce connection, asynchronous only.
 *
 * <p>The connection is opened on first use, without blocking the caller. While Redis is down, commands fail at once
 * (Lettuce's {@code REJECT_COMMANDS}) so each policy's {@code onStoreFailure} decides without waiting; Lettuce
 * reconnects by itself once a connection was made, and a first connection that failed is retried at most once per
 * {@link Builder#retryInterval retry interval}.
 *
 * <p>Address forms are Lettuce's URIs: {@code redis://host:port/db}, {@code rediss://...} (TLS) and
 * {@code redis-sentinel://host:port,host:port/db#masterName} (Sentinel); a bare {@code host:port} means
 * {@code redis://host:port}. Thread-safe.
 */
public final class RedisStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisStore.class);

    private final RedisURI uri;
    private final String display;
    private final RedisClient client;
    private final long retryNanos;
    private final String keyPrefix;
    private CompletableFuture<StatefulRedisConnection<byte[], byte[]>> connection;
    private CompletableFuture<AsyncProxyManager<byte[]>> proxyManager;
    private long lastAttempt;
    private boolean closed;

    private RedisStore(Builder b) {
        this.uri = b.uri;
        this.display = b.display;
        this.retryNanos = b.retryInterval.toNanos();
        this.keyPrefix = b.keyPrefix;
        this.client = RedisClient.create(uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(b.commandTimeout))
                .build());
    }

    /** A builder; {@link Builder#address} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** The address as given, for logs. */
    public String address() {
        return display;
    }

    /** The prefix of every Redis key this store writes ({@code torii:rl:} by default). */
    public String keyPrefix() {
        return keyPrefix;
    }

    /** The Bucket4j proxy manager over the current connection, opening one if needed. Never blocks. */
    synchronized CompletableFuture<AsyncProxyManager<byte[]>> proxyManager() {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("redis store " + display + " is closed"));
        }
        if (proxyManager == null
                || (proxyManager.isCompletedExceptionally() && System.nanoTime() - lastAttempt >= retryNanos)) {
            lastAttempt = System.nanoTime();
            connection = client.connectAsync(ByteArrayCodec.INSTANCE, uri).toCompletableFuture();
            proxyManager = connection.thenApply(c -> Bucket4jLettuce.casBasedBuilder(c)
                    .expirationAfterWrite(
                            ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(Duration.ofSeconds(10)))
                    .build()
                    .asAsync());
            proxyManager.whenComplete((pm, e) -> {
                if (e != null) {
                    log.debug("redis store {}: connecting failed: {}", display, e.toString());
                }
            });
        }
        return proxyManager;
    }

    /**
     * Opens the connection now and waits for it (a configuration reload checks a new Redis before it swaps): returns
     * once Redis answered the handshake ({@code AUTH} and {@code SELECT} included), within {@code timeout}. Blocks; call
     * it off event loops.
     *
     * @throws IllegalStateException naming the address and the cause when the connection cannot be made in time
     */
    public void connect(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        try {
            proxyManager().get(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("cannot connect to redis '" + display + "': interrupted", e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(
                    "cannot connect to redis '" + display + "' (no answer within " + timeout.toMillis() + " ms)", e);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable t = e.getCause();
            while (t.getCause() != null && t.getCause() != t) {
                t = t.getCause();
            }
            throw new IllegalStateException(
                    "cannot connect to redis '" + display + "' (" + (t.getMessage() == null ? t : t.getMessage()) + ")",
                    e);
        }
    }

    /** Closes the connection and the Lettuce client (its threads). Blocks until they are closed; call it off loops. */
    @Override
    public void close() {
        CompletableFuture<StatefulRedisConnection<byte[], byte[]>> c;
        synchronized (this) {
            closed = true;
            c = connection;
        }
        if (c != null) {
            // A connect still in progress is waited for (bounded) and closed too: a connection the client's event
            // loops are torn down under never gets its channelUnregistered, and its read buffer is never released.
            try {
                c.get(2, java.util.concurrent.TimeUnit.SECONDS).close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                log.debug("redis store {}: closing while its connection failed: {}", display, e.toString());
            }
        }
        client.shutdown(Duration.ofMillis(100), Duration.ofSeconds(5));
    }

    @Override
    public String toString() {
        return "RedisStore(" + display + ")";
    }

    /** Builds a {@link RedisStore}. Not thread-safe. */
    public static final class Builder {
        private RedisURI uri;
        private String display;
        private Duration retryInterval = Duration.ofSeconds(1);
        private Duration commandTimeout = Duration.ofSeconds(1);
        private String keyPrefix = "torii:rl:";

        private Builder() {}

        /**
         * Where Redis is: {@code host:port} or a Lettuce URI ({@code redis://}, {@code rediss://},
         * {@code redis-sentinel://}).
         */
        public Builder address(String address) {
            Objects.requireNonNull(address, "address");
            String text = address.contains("://") ? address : "redis://" + address;
            try {
                this.uri = RedisURI.create(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "address: '" + address + "' (expected: host:port or a redis://,"
                                + " rediss:// or redis-sentinel:// URI)",
                        e);
            }
            this.display = address;
            return this;
        }

        /** The password (Redis {@code AUTH}); none by default. */
        public Builder password(String password) {
            requireAddress()
                    .setAuthentication(
                            Objects.requireNonNull(password, "password").toCharArray());
            return this;
        }

        /** The database number; 0 by default. */
        public Builder database(int database) {
            if (database < 0) {
                throw new IllegalArgumentException("database: " + database + " (expected: >= 0)");
            }
            requireAddress().setDatabase(database);
            return this;
        }

        /** How long to wait before trying again when the first connection failed (default 1 s). */
        public Builder retryInterval(Duration retryInterval) {
            if (retryInterval.isNegative() || retryInterval.isZero()) {
                throw new IllegalArgumentException("retryInterval: " + retryInterval + " (expected: > 0)");
            }
            this.retryInterval = retryInterval;
            return this;
        }

        /** Lettuce's own command timeout (default 1 s); each policy's {@code storeTimeout} is usually shorter. */
        public Builder commandTimeout(Duration commandTimeout) {
            if (commandTimeout.isNegative() || commandTimeout.isZero()) {
                throw new IllegalArgumentException("commandTimeout: " + commandTimeout + " (expected: > 0)");
            }
            this.commandTimeout = commandTimeout;
            return this;
        }

        /** The prefix of every key (default {@code torii:rl:}); a key is {@code prefix + policy + ":" + key}. */
        public Builder keyPrefix(String keyPrefix) {
            this.keyPrefix = Objects.requireNonNull(keyPrefix, "keyPrefix");
            return this;
        }

        private RedisURI requireAddress() {
            if (uri == null) {
                throw new IllegalStateException("address: none (expected: set address before password/database)");
            }
            return uri;
        }

        /** The store; nothing is connected until a policy first uses it. */
        public RedisStore build() {
            if (uri == null) {
                throw new IllegalArgumentException("address: none (expected: host:port or a redis:// URI)");
            }
            return new RedisStore(this);
        }
    }
}
