package dev.torii.dns.internal;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Message;

/**
 * How a {@link Upstreams upstream query} reaches a server: Netty channels on one event loop of the cache's own,
 * dnsjava only for the wire format.
 *
 * <pre>
 *  send(server, query) ─▶ UDP: one of the server's {@value #UDP_SOCKETS} datagram sockets, picked at random, each
 *                          connected to the server from a port the kernel chose at random (connected, so that a
 *                          server that is down answers "port unreachable" at once, as with dnsjava's socket per
 *                          query, instead of a timeout); a random query ID not pending on that socket
 *                          answer accepted only if its ID, its question and its source address and port match;
 *                          anything else (a spoof, a late answer to a timed-out query) is dropped and counted
 *                          TC (truncated) ─▶ the same query again over TCP
 *                     ─▶ TCP (forceTcp, or after TC): one connection per server, kept and reused, queries pipelined
 *                          (2-byte length framing, answers matched by ID and question in any order); a connection the
 *                          server closes fails what was pending on it, and the next query opens a new one
 * </pre>
 *
 * Every pending query has its own deadline on the event loop, so an answer that never comes frees its entry. Queries are
 * written straight into pooled direct buffers ({@link UpstreamQuery}), without a dnsjava {@code Message}; an answer's
 * ID, source and question are checked on its bytes, and only an answer that matches is parsed by dnsjava into a
 * {@link Message}. Each DatagramPacket and TCP frame is released by the handler that read it.
 *
 * <p>Thread-safe: {@link #send} may be called from any thread; the channels' state lives on the transport's event
 * loop. Futures complete on that event loop.
 */
public final class DnsTransport implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DnsTransport.class);
    /** Datagram sockets in the pool: an attacker must guess the port among these as well as the 16-bit ID. */
    static final int UDP_SOCKETS = 16;
    /**
     * Queries a datagram socket sends before it is replaced by a fresh one on a new random port, so that the ports in
     * use keep changing (as a resolver's port per query does, at a socket's cost per this many queries) while the pool
     * stays at {@value #UDP_SOCKETS} per server plus the retired ones still waiting for their last answers.
     */
    static final int ROTATE_AFTER = 1_000;
    /** The TC bit in the header's third byte. */
    private static final int TC = 0x02;

    private final EventLoopGroup group;
    private final boolean epoll;
    private final EventLoop loop;
    private final int receiveBuffer;
    private final Map<InetSocketAddress, UdpSocket[]> udp = new ConcurrentHashMap<>();
    private final Map<InetSocketAddress, TcpConnection> tcp = new ConcurrentHashMap<>();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder truncated = new LongAdder();
    private final LongAdder rotated = new LongAdder();
    private volatile boolean closed;

    /**
     * Starts the event loop; {@link #addServer} opens each server's UDP sockets, TCP connections are opened on first
     * use. {@code ednsPayloadSize} sizes the UDP receive buffer.
     */
    public DnsTransport(int ednsPayloadSize) {
        // epoll as the DNS server and the gateway use it, unless -Dtorii.transport=nio
        this.epoll = !"nio".equalsIgnoreCase(System.getProperty("torii.transport")) && Epoll.isAvailable();
        this.group = new MultiThreadIoEventLoopGroup(
                1,
                new DefaultThreadFactory("torii-dns-upstream", true),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        this.loop = group.next();
        this.receiveBuffer = Math.max(4096, ednsPayloadSize);
    }

    /**
     * Opens the UDP sockets of {@code server} unless open already. Blocking (a bind and a connect per socket): call it
     * while the cache is built, off any event loop.
     */
    public synchronized void addServer(InetSocketAddress server) {
        if (udp.containsKey(server)) {
            return;
        }
        UdpSocket[] sockets = new UdpSocket[UDP_SOCKETS];
        try {
            for (int i = 0; i < UDP_SOCKETS; i++) {
                sockets[i] = openUdp(server);
            }
        } catch (RuntimeException e) {
            for (UdpSocket s : sockets) {
                if (s != null) {
                    s.channel.close();
                }
            }
            throw e;
        }
        udp.put(server, sockets);
    }

    /** Answers dropped because their ID, question or source did not match a pending query. */
    public long dropped() {
        return dropped.sum();
    }

    /** UDP answers with TC set, asked again over TCP. */
    public long truncated() {
        return truncated.sum();
    }

    /**
     * Sends {@code query} with a random ID to {@code server}; the future completes on the transport's event loop
     * with the matching answer, or fails with an {@link IOException}: a {@link QueryTimeout} when the deadline of
     * {@code timeoutNanos} passed, another for a refused or closed connection. Cancelling the future forgets the query.
     */
    public CompletableFuture<Message> send(
            InetSocketAddress server, UpstreamQuery query, boolean overTcp, long timeoutNanos) {
        CompletableFuture<Message> result = new CompletableFuture<>();
        if (closed) {
            result.completeExceptionally(new IOException("the DNS transport is closed"));
            return result;
        }
        try {
            loop.execute(() -> {
                if (overTcp) {
                    sendTcp(server, query, result, timeoutNanos);
                } else {
                    sendUdp(server, query, result, timeoutNanos);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IOException("the DNS transport is closed"));
        }
        return result;
    }

    // ------------------------------------------------------------------------------------------------------ UDP

    private void sendUdp(
            InetSocketAddress server, UpstreamQuery query, CompletableFuture<Message> result, long timeout) {
        UdpSocket[] sockets = udp.get(server);
        if (sockets == null) {
            result.completeExceptionally(new IOException(server + " is not a server of this DNS transport"));
            return;
        }
        int slot = ThreadLocalRandom.current().nextInt(UDP_SOCKETS);
        UdpSocket socket = sockets[slot];
        if (++socket.sent == ROTATE_AFTER) {
            rotate(server, sockets, slot);
        }
        if (!socket.channel.isActive()) {
            result.completeExceptionally(new IOException("the DNS transport's UDP socket is closed"));
            return;
        }
        Pending p = new Pending(server, query, result);
        int id = socket.register(p);
        var timer = loop.schedule(
                () -> {
                    if (socket.pending.remove(id, p)) {
                        result.completeExceptionally(new QueryTimeout("no answer from " + server + " over UDP"));
                    }
                },
                timeout,
                TimeUnit.NANOSECONDS);
        result.whenComplete((m, e) -> {
            timer.cancel(false);
            if (e != null) { // cancelled by the caller (its own deadline came first): forget the query
                onLoop(() -> socket.pending.remove(id, p));
            }
        });
        socket.channel.write(direct(socket.channel, query, id)).addListener(f -> {
            if (!f.isSuccess() && socket.pending.remove(id, p)) {
                result.completeExceptionally(new IOException("sending to " + server + ": " + f.cause(), f.cause()));
            }
        });
        socket.flushSoon();
    }

    /**
     * Replaces the socket in {@code slot} with a fresh one once that one is connected (on a new port the kernel picks at
     * random); the old one keeps serving until then, and is closed once its pending queries are answered or timed out.
     * On the loop.
     */
    private void rotate(InetSocketAddress server, UdpSocket[] sockets, int slot) {
        UdpSocket old = sockets[slot];
        UdpSocket fresh = new UdpSocket();
        ChannelFuture f = connectUdp(server, fresh);
        fresh.channel = f.channel();
        f.addListener(done -> {
            if (!done.isSuccess() || closed) {
                fresh.channel.close();
                old.sent = 0; // try again in another ROTATE_AFTER queries
                return;
            }
            if (sockets[slot] == old) {
                sockets[slot] = fresh;
                rotated.increment();
                old.closeWhenIdle();
            } else {
                fresh.channel.close();
            }
        });
    }

    /** Sockets replaced by fresh ones on new ports (see {@link #ROTATE_AFTER}). */
    public long rotated() {
        return rotated.sum();
    }

    private UdpSocket openUdp(InetSocketAddress server) {
        UdpSocket socket = new UdpSocket();
        socket.channel = connectUdp(server, socket).syncUninterruptibly().channel();
        return socket;
    }

    private ChannelFuture connectUdp(InetSocketAddress server, UdpSocket socket) {
        return new Bootstrap()
                .group(loop)
                .channel(epoll ? EpollDatagramChannel.class : NioDatagramChannel.class)
                .option(ChannelOption.RECVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(receiveBuffer))
                .handler(new SimpleChannelInboundHandler<DatagramPacket>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
                        socket.answer(packet.sender(), packet.content());
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        if (cause instanceof java.net.PortUnreachableException) {
                            // Nothing listens there (the server was killed): what waits on this socket fails now.
                            socket.failAll(server + " refused (ICMP port unreachable)");
                        } else {
                            log.debug("DNS UDP socket to {}: {}", server, cause.toString());
                        }
                    }
                })
                .connect(server); // from an ephemeral port the kernel picks at random
    }

    /** One datagram socket and the queries pending on it by ID. Confined to the event loop. */
    private final class UdpSocket {
        Channel channel;
        final Map<Integer, Pending> pending = new HashMap<>();
        boolean flushScheduled;
        /** Queries sent, for rotation. */
        int sent;

        /** Closes the channel once no query waits on it any more (checked each second: answers or timeouts end them). */
        void closeWhenIdle() {
            if (pending.isEmpty() || closed) {
                channel.close();
                failAll("the DNS transport's UDP socket was rotated");
            } else {
                loop.schedule(this::closeWhenIdle, 1, TimeUnit.SECONDS);
            }
        }

        /**
         * Flushes after the send tasks already queued on the loop have written theirs: a burst of misses leaves in one
         * flush (epoll: one sendmmsg) rather than a sendto each.
         */
        void flushSoon() {
            if (!flushScheduled) {
                flushScheduled = true;
                loop.execute(() -> {
                    flushScheduled = false;
                    channel.flush();
                });
            }
        }

        int register(Pending p) {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            for (; ; ) {
                int id = r.nextInt(0x10000);
                if (pending.putIfAbsent(id, p) == null) {
                    return id;
                }
            }
        }

        void failAll(String why) {
            for (Iterator<Pending> it = pending.values().iterator(); it.hasNext(); ) {
                Pending p = it.next();
                it.remove();
                p.result.completeExceptionally(new IOException(why));
            }
        }

        void answer(InetSocketAddress sender, ByteBuf content) {
            // Checked on the bytes first: a spoof or a late answer costs no parse.
            if (content.readableBytes() < WireQuery.HEADER) {
                dropped.increment();
                return;
            }
            int id = content.getUnsignedShort(content.readerIndex());
            Pending p = pending.get(id);
            if (p == null || !p.server.equals(sender) || !p.query.asked(content)) {
                dropped.increment();
                return;
            }
            if ((content.getByte(content.readerIndex() + 2) & TC) != 0) {
                pending.remove(id);
                truncated.increment();
                sendTcp(p.server, p.query, p.result, TimeUnit.SECONDS.toNanos(5));
                return;
            }
            Message m = parse(content);
            if (m == null) {
                dropped.increment();
                return;
            }
            pending.remove(id);
            p.result.complete(m);
        }
    }

    // ------------------------------------------------------------------------------------------------------ TCP

    private void sendTcp(
            InetSocketAddress server, UpstreamQuery query, CompletableFuture<Message> result, long timeout) {
        TcpConnection c = tcp.get(server);
        if (c == null || c.dead) {
            c = new TcpConnection(server);
            tcp.put(server, c);
            c.connect();
        }
        c.send(new Pending(server, query, result), timeout);
    }

    /** One kept TCP connection to a server, with its pipelined queries by ID. Confined to the event loop. */
    private final class TcpConnection {
        final InetSocketAddress server;
        final Map<Integer, Pending> pending = new HashMap<>();
        Channel channel;
        boolean connected;
        boolean dead;
        /** Queries written before the connection was up. */
        final Map<Integer, UpstreamQuery> queued = new java.util.LinkedHashMap<>();

        TcpConnection(InetSocketAddress server) {
            this.server = server;
        }

        void connect() {
            ChannelFuture f = new Bootstrap()
                    .group(loop)
                    .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline()
                                    .addLast(new LengthFieldBasedFrameDecoder(0xFFFF, 0, 2, 0, 2))
                                    .addLast(new LengthFieldPrepender(2))
                                    .addLast(new SimpleChannelInboundHandler<ByteBuf>() {
                                        @Override
                                        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) {
                                            answer(frame);
                                        }

                                        @Override
                                        public void channelInactive(ChannelHandlerContext ctx) {
                                            fail("connection closed by " + server);
                                        }

                                        @Override
                                        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                            ctx.close();
                                            fail(server + ": " + cause);
                                        }
                                    });
                        }
                    })
                    .connect(server);
            channel = f.channel();
            f.addListener(done -> {
                if (!done.isSuccess()) {
                    fail("connecting to " + server + ": " + done.cause());
                    return;
                }
                connected = true;
                for (Map.Entry<Integer, UpstreamQuery> q : queued.entrySet()) {
                    channel.write(direct(channel, q.getValue(), q.getKey()));
                }
                queued.clear();
                channel.flush();
            });
        }

        void send(Pending p, long timeout) {
            if (dead) {
                p.result.completeExceptionally(new IOException("connection to " + server + " closed"));
                return;
            }
            ThreadLocalRandom r = ThreadLocalRandom.current();
            int id;
            do {
                id = r.nextInt(0x10000);
            } while (pending.putIfAbsent(id, p) != null);
            int key = id;
            var timer = loop.schedule(
                    () -> {
                        if (pending.remove(key, p)) {
                            queued.remove(key);
                            p.result.completeExceptionally(new QueryTimeout("no answer from " + server + " over TCP"));
                        }
                    },
                    timeout,
                    TimeUnit.NANOSECONDS);
            p.result.whenComplete((m, e) -> {
                timer.cancel(false);
                if (e != null) {
                    onLoop(() -> {
                        pending.remove(key, p);
                        queued.remove(key);
                    });
                }
            });
            if (connected) {
                channel.writeAndFlush(direct(channel, p.query, id));
            } else {
                queued.put(id, p.query);
            }
        }

        void answer(ByteBuf frame) {
            int id = frame.readableBytes() < WireQuery.HEADER ? -1 : frame.getUnsignedShort(frame.readerIndex());
            Pending p = id < 0 ? null : pending.get(id);
            Message m = p == null || !p.query.asked(frame) ? null : parse(frame);
            if (m == null) {
                dropped.increment();
                return;
            }
            pending.remove(id);
            p.result.complete(m);
        }

        void fail(String why) {
            if (tcp.get(server) == this) {
                tcp.remove(server, this);
            }
            dead = true;
            queued.clear();
            for (Iterator<Pending> it = pending.values().iterator(); it.hasNext(); ) {
                Pending p = it.next();
                it.remove();
                p.result.completeExceptionally(new IOException(why));
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------ common

    /** The failure of a query whose deadline passed without a matching answer. */
    public static final class QueryTimeout extends IOException {
        QueryTimeout(String message) {
            super(message, null);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this; // a silent upstream times out thousands of queries: the stack says nothing here
        }
    }

    /** A query waiting for its answer. */
    private record Pending(InetSocketAddress server, UpstreamQuery query, CompletableFuture<Message> result) {}

    /**
     * {@code query} with {@code id}, written into a pooled direct buffer: a heap buffer would be copied into a direct
     * one by the epoll write (a {@code DirectByteBuffer} slice per query in the JFR recordings). The write owns and
     * releases it.
     */
    private static ByteBuf direct(Channel channel, UpstreamQuery query, int id) {
        ByteBuf out = channel.alloc().directBuffer(query.length());
        query.write(out, id);
        return out;
    }

    private void onLoop(Runnable r) {
        if (loop.inEventLoop()) {
            r.run();
        } else {
            try {
                loop.execute(r);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closed: nothing is pending any more
            }
        }
    }

    private static Message parse(ByteBuf content) {
        try {
            return new Message(ByteBufUtil.getBytes(content));
        } catch (IOException e) {
            return null;
        }
    }

    /** Closes every socket and connection and stops the event loop; pending queries fail. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            loop.execute(() -> {
                for (UdpSocket[] sockets : udp.values()) {
                    for (UdpSocket s : sockets) {
                        s.channel.close();
                        s.failAll("the DNS transport is closed");
                    }
                }
                for (TcpConnection c : tcp.values()) {
                    c.channel.close();
                    c.fail("the DNS transport is closed");
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // already shutting down
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    /** For logs. */
    @Override
    public String toString() {
        return "DnsTransport(" + udp.size() + " servers x " + UDP_SOCKETS + " UDP sockets, " + tcp.size()
                + " TCP connections)";
    }
}
