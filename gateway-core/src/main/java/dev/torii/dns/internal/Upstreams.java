package dev.torii.dns.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.torii.dns.DnsException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Type;

/**
 * Sends one question to the upstream servers until one answers: several attempts, each with its own deadline, on the
 * next server after a failure, with a jittered pause between attempts.
 *
 * <p>The {@link DnsTransport} carries the bytes on Netty (a pool of UDP sockets on random ports with random query IDs,
 * the answer's ID, question and source checked, TCP retried on a truncated UDP answer, or TCP only over a kept,
 * pipelined connection); {@link UpstreamQuery} writes the query, dnsjava reads the answer. Each attempt's deadline is a timer on the
 * transport's event loop; only the pauses between attempts use the cache's scheduler.
 *
 * <p>An attempt fails on a timeout, an I/O or parse error, or an answer with an rcode other than NOERROR and NXDOMAIN
 * (SERVFAIL, REFUSED, ...): each of those is worth asking another server. A server that failed is tried last for
 * {@link #FAILURE_MEMORY_NANOS} so that one dead upstream does not cost every lookup a timeout.
 */
public final class Upstreams {
    static final long FAILURE_MEMORY_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final List<Server> servers;
    private final ScheduledExecutorService executor;
    private final Ticker ticker;
    private final long queryTimeoutNanos;
    private final int attempts;
    private final long retryBackoffNanos;
    private final LatencyRecorder latency;
    private final LongAdder queries = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder timeouts = new LongAdder();

    private final DnsTransport transport;
    private final boolean forceTcp;
    private final int ednsPayloadSize;

    private record Server(InetSocketAddress address, AtomicLong failedAt) {}

    /** The servers of one zone, asked through {@code transport} over UDP (or TCP only), with the EDNS size given. */
    public Upstreams(
            DnsTransport transport,
            List<InetSocketAddress> addresses,
            boolean forceTcp,
            int ednsPayloadSize,
            Duration queryTimeout,
            int attempts,
            Duration retryBackoff,
            ScheduledExecutorService executor,
            Ticker ticker,
            LatencyRecorder latency) {
        this.transport = transport;
        addresses.forEach(transport::addServer);
        this.forceTcp = forceTcp;
        this.ednsPayloadSize = ednsPayloadSize;
        this.servers = addresses.stream()
                .map(a -> new Server(a, new AtomicLong(Long.MIN_VALUE)))
                .toList();
        this.executor = executor;
        this.ticker = ticker;
        this.queryTimeoutNanos = queryTimeout.toNanos();
        this.attempts = attempts;
        this.retryBackoffNanos = retryBackoff.toNanos();
        this.latency = latency;
    }

    /**
     * Asks the servers for {@code question}; the future completes, on the transport's event loop or the executor,
     * with a NOERROR or NXDOMAIN response or fails with a {@link DnsException} ({@code TIMEOUT} or
     * {@code UPSTREAM_FAILED}). {@code wireName} is the question's name in wire format
     * ({@link UpstreamQuery#wireName(String)}).
     */
    public CompletableFuture<Message> query(Question question, byte[] wireName) {
        UpstreamQuery query = new UpstreamQuery(question.name(), question.type(), ednsPayloadSize, wireName);
        CompletableFuture<Message> result = new CompletableFuture<>();
        attempt(result, query, 0, firstServer(), null);
        return result;
    }

    private int firstServer() {
        long now = ticker.read();
        for (int i = 0; i < servers.size(); i++) {
            long failedAt = servers.get(i).failedAt().get();
            if (failedAt == Long.MIN_VALUE || now - failedAt > FAILURE_MEMORY_NANOS) {
                return i;
            }
        }
        return 0;
    }

    private void attempt(
            CompletableFuture<Message> result, UpstreamQuery query, int attempt, int first, DnsException last) {
        if (result.isDone()) {
            return; // the cache was closed
        }
        if (attempt >= attempts) {
            result.completeExceptionally(last);
            return;
        }
        Server server = servers.get((first + attempt) % servers.size());
        queries.increment();
        long start = ticker.read();
        // The deadline is the transport's, a timer on its own event loop beside the query it guards: no scheduler
        // thread, lock or task hop per query, and nothing to cancel from another thread when the answer comes first.
        transport.send(server.address(), query, forceTcp, queryTimeoutNanos).whenComplete((response, error) -> {
            DnsException failure;
            if (error == null) {
                int rcode = response.getRcode();
                if (rcode == Rcode.NOERROR || rcode == Rcode.NXDOMAIN) {
                    latency.record(ticker.read() - start);
                    result.complete(response);
                    return;
                }
                failure = new DnsException(
                        DnsException.Reason.UPSTREAM_FAILED,
                        query.name() + " " + Type.string(query.type()) + ": " + server.address() + " answered "
                                + Rcode.string(rcode));
            } else if (error instanceof DnsTransport.QueryTimeout) {
                timeouts.increment();
                failure = new DnsException(
                        DnsException.Reason.TIMEOUT,
                        query.name() + " " + Type.string(query.type()) + ": no answer from " + server.address()
                                + " within " + Duration.ofNanos(queryTimeoutNanos));
            } else {
                Throwable cause = error.getCause() != null ? error.getCause() : error;
                failure = new DnsException(
                        DnsException.Reason.UPSTREAM_FAILED,
                        query.name() + " " + Type.string(query.type()) + ": " + server.address() + ": " + cause);
            }
            errors.increment();
            server.failedAt().set(ticker.read());
            long pause = pause(attempt);
            if (pause == 0) {
                attempt(result, query, attempt + 1, first, failure);
            } else {
                try {
                    executor.schedule(
                            () -> attempt(result, query, attempt + 1, first, failure), pause, TimeUnit.NANOSECONDS);
                } catch (RejectedExecutionException e) {
                    result.completeExceptionally(failure);
                }
            }
        });
    }

    /** Full jitter over an exponential backoff, capped at the query timeout, so retries of many names spread out. */
    private long pause(int attempt) {
        if (retryBackoffNanos == 0 || attempt + 1 >= attempts) {
            return 0;
        }
        long ceiling = Math.min(queryTimeoutNanos, retryBackoffNanos << Math.min(attempt, 20));
        return ThreadLocalRandom.current().nextLong(ceiling + 1);
    }

    /** Whether {@code other} asks the same servers in the same order the same way (UDP or TCP only). */
    public boolean sameServers(Upstreams other) {
        return forceTcp == other.forceTcp
                && servers.stream()
                        .map(Server::address)
                        .toList()
                        .equals(other.servers.stream().map(Server::address).toList());
    }

    /** Attempts sent. */
    public long queries() {
        return queries.sum();
    }

    /** Attempts that failed, timeouts included. */
    public long errors() {
        return errors.sum();
    }

    /** Attempts that missed their deadline. */
    public long timeouts() {
        return timeouts.sum();
    }
}
