package dev.torii.dns.internal;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.torii.dns.DnsException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * Sends one question to the upstream servers until one answers: several attempts, each with its own deadline, on the
 * next server after a failure, with a jittered pause between attempts.
 *
 * <p>dnsjava carries the bytes ({@link SimpleResolver}: a fresh UDP socket on a random port and a random query ID per
 * attempt, the response's ID and question checked, TCP retried on a truncated UDP answer, or TCP only). The deadlines
 * are ours, on our scheduler: dnsjava's shared NIO selector notices its own timeouts only about once a second.
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

    private record Server(InetSocketAddress address, SimpleResolver resolver, AtomicLong failedAt) {}

    /** One dnsjava resolver per server, configured for the transport, EDNS size and timeouts given. */
    public Upstreams(
            List<InetSocketAddress> addresses,
            boolean forceTcp,
            int ednsPayloadSize,
            Duration queryTimeout,
            int attempts,
            Duration retryBackoff,
            ScheduledExecutorService executor,
            Ticker ticker,
            LatencyRecorder latency) {
        this.servers = addresses.stream()
                .map(a -> new Server(
                        a, resolver(a, forceTcp, ednsPayloadSize, queryTimeout), new AtomicLong(Long.MIN_VALUE)))
                .toList();
        this.executor = executor;
        this.ticker = ticker;
        this.queryTimeoutNanos = queryTimeout.toNanos();
        this.attempts = attempts;
        this.retryBackoffNanos = retryBackoff.toNanos();
        this.latency = latency;
    }

    private static SimpleResolver resolver(
            InetSocketAddress address, boolean forceTcp, int ednsPayloadSize, Duration queryTimeout) {
        SimpleResolver r = new SimpleResolver(address);
        r.setTCP(forceTcp);
        if (ednsPayloadSize == 0) {
            r.setEDNS(-1);
        } else {
            r.setEDNS(0, ednsPayloadSize, 0, List.of());
        }
        // dnsjava's own timeout only frees its socket; ours (a little shorter) decides. The margin covers the NIO
        // selector's one-second resolution so dnsjava never answers "timed out" before we do.
        r.setTimeout(queryTimeout.plusSeconds(1));
        return r;
    }

    /**
     * Asks the servers for {@code name}/{@code type}; the future completes, on the executor, with a NOERROR or NXDOMAIN
     * response or fails with a {@link DnsException} ({@code TIMEOUT} or {@code UPSTREAM_FAILED}).
     */
    public CompletableFuture<Message> query(Name name, int type) {
        CompletableFuture<Message> result = new CompletableFuture<>();
        attempt(result, name, type, 0, firstServer(), null);
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
            CompletableFuture<Message> result, Name name, int type, int attempt, int first, DnsException last) {
        if (result.isDone()) {
            return; // the cache was closed
        }
        if (attempt >= attempts) {
            result.completeExceptionally(last);
            return;
        }
        Server server = servers.get((first + attempt) % servers.size());
        Message query = Message.newQuery(Record.newRecord(name, type, DClass.IN));
        queries.increment();
        long start = ticker.read();
        CompletableFuture<Message> outcome = new CompletableFuture<>();
        ScheduledFuture<?> deadline;
        try {
            deadline = executor.schedule(
                    () -> outcome.completeExceptionally(new DnsException(
                            DnsException.Reason.TIMEOUT,
                            name + " " + Type.string(type) + ": no answer from " + server.address() + " within "
                                    + Duration.ofNanos(queryTimeoutNanos))),
                    queryTimeoutNanos,
                    TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            // The cache closed under this lookup; its callers have been failed already.
            result.completeExceptionally(
                    new DnsException(DnsException.Reason.CLOSED, name + ": the DNS cache is closed"));
            return;
        }
        server.resolver().sendAsync(query, executor).whenComplete((m, e) -> {
            if (e != null) {
                outcome.completeExceptionally(e);
            } else {
                outcome.complete(m);
            }
        });
        outcome.whenComplete((response, error) -> {
            deadline.cancel(false);
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
                        name + " " + Type.string(type) + ": " + server.address() + " answered " + Rcode.string(rcode));
            } else if (error instanceof DnsException d) {
                timeouts.increment();
                failure = d;
            } else {
                Throwable cause = error.getCause() != null ? error.getCause() : error;
                failure = new DnsException(
                        DnsException.Reason.UPSTREAM_FAILED,
                        name + " " + Type.string(type) + ": " + server.address() + ": " + cause);
            }
            errors.increment();
            server.failedAt().set(ticker.read());
            long pause = pause(attempt);
            if (pause == 0) {
                attempt(result, name, type, attempt + 1, first, failure);
            } else {
                try {
                    executor.schedule(
                            () -> attempt(result, name, type, attempt + 1, first, failure),
                            pause,
                            TimeUnit.NANOSECONDS);
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
