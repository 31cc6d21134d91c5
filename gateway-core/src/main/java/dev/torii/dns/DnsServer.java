package dev.torii.dns;

import dev.torii.dns.internal.QueryResponder;
import dev.torii.dns.internal.ServerCounters;
import dev.torii.dns.internal.TcpHandler;
import dev.torii.dns.internal.UdpHandler;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A DNS server that answers any client from a {@link DnsCache} and forwards what the cache misses to the cache's
 * upstreams: a node-local DNS cache, on UDP and TCP at one address (169.254.20.10:53 in a cluster, as NodeLocal
 * DNSCache; a loopback port in tests).
 *
 * <pre>{@code
 * DnsCache cache = DnsCache.builder().upstreams("10.96.0.10:53").forceTcp(true).build();
 * DnsServer server = DnsServer.builder(cache)
 *         .address("169.254.20.10:53")
 *         .rateLimit(DnsRateLimit.of(200, Duration.ofSeconds(1)).withBurst(400))
 *         .build()
 *         .start();
 * }</pre>
 *
 * <pre>
 *  UDP socket(s) ──┐ (SO_REUSEPORT: one socket per event loop, batched reads and writes with epoll)
 *  TCP connections ┴─▶ rate limit per client address ─▶ query parsed ─▶ cache: hit ─▶ response bytes at once
 *                                                                         └─ miss ─▶ upstream ─▶ response later
 * </pre>
 *
 * <p>What it answers: standard queries of class IN, from the cache (the cache's rules: {@link DnsCache#query}).
 * Responses echo the query's ID and question (letter case included) and its RD flag; a query with EDNS gets an OPT
 * record back. A UDP response larger than the client's UDP size (512 bytes, or its EDNS size, at most 1232) is sent
 * truncated
 * (TC=1, no records) so the client retries over TCP. Other opcodes are NOTIMP; other classes, {@code ANY}, zone
 * transfers and meta types are REFUSED; unparsable queries are FORMERR when their header can be read and dropped
 * otherwise; responses (QR=1) are dropped. A hit is answered from a serialized rendering of the cached answer kept per
 * TTL second, with the ID and question patched in, so dnsjava builds nothing per hit.
 *
 * <p>Threads: its own event loops ({@code ioThreads}, epoll where available), never blocked: a miss is answered
 * from the cache's thread when the upstream answers. Memory stays bounded under floods: at most {@code
 * maxPendingQueries} queries wait for upstream answers (more are dropped), at most {@code maxTcpConnections} TCP
 * connections are open, each with at most 100 queries waiting before reading stops, and UDP responses the socket cannot
 * take are dropped, not queued.
 *
 * <p>The server does not own the cache: close the cache after the server. Thread-safe.
 */
public final class DnsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DnsServer.class);
    /** The largest query read over UDP (longer ones arrive cut and are answered FORMERR); queries are rarely 100 bytes. */
    private static final int MAX_UDP_QUERY = 2_048;
    /**
     * Datagrams per {@code recvmmsg}; their buffer (32 KiB) stays within what Netty's allocator pools, where a 64 KiB
     * one was allocated and freed on every read.
     */
    private static final int DATAGRAMS_PER_READ = 16;

    private final Builder settings;
    private final ServerCounters counters = new ServerCounters();
    private final QueryResponder responder;
    private final List<Channel> channels = new ArrayList<>();
    private EventLoopGroup group;
    private InetSocketAddress bound;
    private volatile boolean closed;

    private DnsServer(Builder b) {
        this.settings = b;
        this.responder = new QueryResponder(
                b.cache.serverAccess(),
                counters,
                b.rateLimit,
                b.maxPendingQueries,
                !"false".equals(System.getProperty("torii.dns.fastPath")));
    }

    /** A builder for a server answering from {@code cache}. */
    public static Builder builder(DnsCache cache) {
        return new Builder(Objects.requireNonNull(cache, "cache"));
    }

    /**
     * Binds TCP and UDP on the address and starts serving. With port 0, both get the same free port.
     *
     * @throws UncheckedIOException when the address cannot be bound (the message says which); nothing stays bound
     */
    public synchronized DnsServer start() {
        if (group != null) {
            throw new IllegalStateException("DNS server '" + settings.name + "' is started already");
        }
        boolean epoll = !"nio".equalsIgnoreCase(System.getProperty("torii.transport")) && Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        group = new MultiThreadIoEventLoopGroup(settings.ioThreads, new DefaultThreadFactory("torii-dns-io", true), io);
        InetSocketAddress wanted = new InetSocketAddress(settings.host, settings.port);
        Throwable last = null;
        for (int attempt = 0; attempt < (settings.port == 0 ? 5 : 1); attempt++) {
            try {
                bind(wanted, epoll);
                log.info(
                        "DNS server '{}' listening on {}:{} (UDP and TCP, {}, {} event loop{}{})",
                        settings.name,
                        bound.getAddress().getHostAddress(),
                        bound.getPort(),
                        epoll ? "epoll" : "nio",
                        settings.ioThreads,
                        settings.ioThreads == 1 ? "" : "s",
                        settings.rateLimit == null
                                ? ""
                                : ", " + settings.rateLimit.rate() + " queries per "
                                        + settings.rateLimit.per().toMillis() + " ms per client, then "
                                        + settings.rateLimit.overLimit().configName());
                return this;
            } catch (Exception e) { // Netty rethrows the bind's IOException unchecked
                last = e;
                closeChannels();
            }
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        group = null;
        String message = "DNS server '" + settings.name + "': cannot bind " + settings.host + ":" + settings.port + ": "
                + (last.getCause() != null ? last.getCause().getMessage() : last.getMessage());
        throw new UncheckedIOException(message, new BindException(message));
    }

    private void bind(InetSocketAddress wanted, boolean epoll) {
        Class<? extends ServerChannel> serverChannel =
                epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        Duration idle = settings.tcpIdleTimeout;
        int maxConnections = settings.maxTcpConnections;
        Channel tcp = bindOrThrow(new ServerBootstrap()
                .group(group)
                .channel(serverChannel)
                .option(ChannelOption.SO_BACKLOG, 1_024)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast(new IdleStateHandler(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS))
                                .addLast(new LengthFieldBasedFrameDecoder(65_535 + 2, 0, 2, 0, 2))
                                .addLast(new TcpHandler(responder, counters, maxConnections));
                    }
                })
                .bind(wanted));
        channels.add(tcp);
        InetSocketAddress tcpAddress = (InetSocketAddress) tcp.localAddress();
        InetSocketAddress udpAddress = new InetSocketAddress(tcpAddress.getAddress(), tcpAddress.getPort());
        // With epoll, one socket per event loop on the same port (SO_REUSEPORT): the kernel spreads clients over them.
        int sockets = epoll ? settings.ioThreads : 1;
        for (int i = 0; i < sockets; i++) {
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(epoll ? EpollDatagramChannel.class : NioDatagramChannel.class)
                    .option(ChannelOption.SO_RCVBUF, 4 << 20)
                    .option(ChannelOption.SO_SNDBUF, 4 << 20)
                    .handler(new ChannelInitializer<DatagramChannel>() {
                        @Override
                        protected void initChannel(DatagramChannel ch) {
                            ch.pipeline().addLast(new UdpHandler(responder, counters));
                        }
                    });
            if (epoll) {
                b.option(EpollChannelOption.SO_REUSEPORT, true)
                        // recvmmsg: up to 16 datagrams per read into one buffer.
                        .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, MAX_UDP_QUERY)
                        .option(
                                ChannelOption.RECVBUF_ALLOCATOR,
                                new FixedRecvByteBufAllocator(MAX_UDP_QUERY * DATAGRAMS_PER_READ));
            } else {
                b.option(ChannelOption.RECVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(MAX_UDP_QUERY));
            }
            channels.add(bindOrThrow(b.bind(udpAddress)));
        }
        bound = udpAddress;
    }

    private static Channel bindOrThrow(io.netty.channel.ChannelFuture f) {
        f.syncUninterruptibly(); // throws the bind failure
        return f.channel();
    }

    private void closeChannels() {
        for (Channel c : channels) {
            c.close().syncUninterruptibly();
        }
        channels.clear();
    }

    /** The address the server is bound to (UDP and TCP), useful with port 0. */
    public InetSocketAddress address() {
        InetSocketAddress a = bound;
        if (a == null) {
            throw new IllegalStateException("DNS server '" + settings.name + "' is not started");
        }
        return a;
    }

    /** The listener name given to the builder. */
    public String name() {
        return settings.name;
    }

    /** A snapshot of the counters (see {@link DnsServerStats}). Cheap enough per scrape. */
    public DnsServerStats stats() {
        return counters.snapshot();
    }

    /** Stops serving: closes the sockets and the event loops, waiting for them. Queries waiting upstream are dropped. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeChannels();
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        log.info("DNS server '{}' stopped", settings.name);
    }

    /**
     * Builds a {@link DnsServer}. Setters only record values; {@link #build()} checks them and names the first wrong
     * one with what was expected. Not thread-safe.
     */
    public static final class Builder {
        private final DnsCache cache;
        private String name = "dns";
        private String host = "127.0.0.1";
        private int port = 53;
        private int ioThreads = Runtime.getRuntime().availableProcessors();
        private DnsRateLimit rateLimit;
        private Duration tcpIdleTimeout = Duration.ofSeconds(10);
        private int maxTcpConnections = 1_024;
        private int maxPendingQueries = 10_000;
        private String addressError;

        private Builder(DnsCache cache) {
            this.cache = cache;
        }

        /** The name in logs and metrics (default {@code dns}). */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** The address for UDP and TCP, an IP literal and a port: {@code "127.0.0.1:5353"}, {@code "[::1]:53"} (default 127.0.0.1:53; port 0: any free port). */
        public Builder address(String address) {
            Objects.requireNonNull(address, "address");
            addressError = null;
            String s = address.strip();
            int colon = s.lastIndexOf(':');
            String h = colon > 0 ? s.substring(0, colon) : "";
            if (h.startsWith("[") && h.endsWith("]")) {
                h = h.substring(1, h.length() - 1);
            }
            try {
                int p = Integer.parseInt(s.substring(colon + 1));
                InetAddress.ofLiteral(h);
                if (p < 0 || p > 65_535) {
                    throw new IllegalArgumentException();
                }
                this.host = h;
                this.port = p;
            } catch (RuntimeException e) {
                addressError = "address: '" + address
                        + "' (expected: an IP address and a port, like 169.254.20.10:53 or [::1]:5353)";
            }
            return this;
        }

        /** Event-loop threads (default: the number of processors); with epoll, one UDP socket each. */
        public Builder ioThreads(int ioThreads) {
            this.ioThreads = ioThreads;
            return this;
        }

        /** A per-client query rate limit (default none). */
        public Builder rateLimit(DnsRateLimit rateLimit) {
            this.rateLimit = rateLimit;
            return this;
        }

        /** How long a TCP connection may stay idle before the server closes it (default 10 s, as CoreDNS). */
        public Builder tcpIdleTimeout(Duration tcpIdleTimeout) {
            this.tcpIdleTimeout = Objects.requireNonNull(tcpIdleTimeout, "tcpIdleTimeout");
            return this;
        }

        /** The most TCP connections open at once; more are closed at accept (default 1,024). */
        public Builder maxTcpConnections(int maxTcpConnections) {
            this.maxTcpConnections = maxTcpConnections;
            return this;
        }

        /** The most queries waiting for upstream answers at once; more are dropped (default 10,000). */
        public Builder maxPendingQueries(int maxPendingQueries) {
            this.maxPendingQueries = maxPendingQueries;
            return this;
        }

        /** Checks every setting and builds the server (not started). */
        public DnsServer build() {
            if (addressError != null) {
                throw new IllegalArgumentException(addressError);
            }
            if (name.isBlank()) {
                throw new IllegalArgumentException("name: '' (expected: a name)");
            }
            if (ioThreads < 1) {
                throw new IllegalArgumentException("ioThreads: " + ioThreads + " (expected: > 0)");
            }
            if (!tcpIdleTimeout.isPositive()) {
                throw new IllegalArgumentException("tcpIdleTimeout: " + tcpIdleTimeout + " (expected: > 0)");
            }
            if (maxTcpConnections < 1) {
                throw new IllegalArgumentException("maxTcpConnections: " + maxTcpConnections + " (expected: > 0)");
            }
            if (maxPendingQueries < 1) {
                throw new IllegalArgumentException("maxPendingQueries: " + maxPendingQueries + " (expected: > 0)");
            }
            Builder copy = new Builder(cache);
            copy.name = name;
            copy.host = host;
            copy.port = port;
            copy.ioThreads = ioThreads;
            copy.rateLimit = rateLimit;
            copy.tcpIdleTimeout = tcpIdleTimeout;
            copy.maxTcpConnections = maxTcpConnections;
            copy.maxPendingQueries = maxPendingQueries;
            return new DnsServer(copy);
        }
    }
}
