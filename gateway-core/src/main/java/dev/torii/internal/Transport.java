package dev.torii.internal;

import io.netty.channel.Channel;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O transport, chosen with {@code -Dtorii.transport=auto|epoll|io_uring|nio}: {@code auto} (the default) is
 * native epoll where it loads (Linux), NIO elsewhere; {@code io_uring} is Netty's io_uring transport where the kernel
 * allows it (else the choice falls back as {@code auto} does, with a warning). TCP listeners never run on epoll: see
 * {@link #forTcp(Transport)} for what they use instead and why.
 */
public record Transport(
        String name,
        IoHandlerFactory ioHandlerFactory,
        Class<? extends ServerChannel> serverChannel,
        Class<? extends Channel> channel) {
    private static final Logger log = LoggerFactory.getLogger(Transport.class);

    /** The transport {@code torii.transport} asks for, where it loads; see the type's Javadoc. */
    static Transport best() {
        String wanted = System.getProperty("torii.transport", "auto").toLowerCase(Locale.ROOT);
        switch (wanted) {
            case "nio" -> {
                return nio();
            }
            case "io_uring", "iouring" -> {
                if (IoUring.isAvailable()) {
                    return ioUring();
                }
                log.warn(
                        "torii.transport=io_uring: not available here ({}); using the default",
                        IoUring.unavailabilityCause().toString());
            }
            case "auto", "epoll" -> {
                // below
            }
            default ->
                log.warn("torii.transport={}: unknown (expected: auto, epoll, io_uring, nio); using auto", wanted);
        }
        return Epoll.isAvailable() ? epoll() : nio();
    }

    /**
     * The transport of TCP listeners given the HTTP listeners' {@code main} one: the same, except epoll, which TCP
     * listeners never use. In its place they take io_uring where it loads and {@code torii.transport} was left to
     * auto-detection ({@code auto}), else NIO (also when {@code epoll} was asked for by name: io_uring is not
     * brought in unasked).
     *
     * <p>Why io_uring first: per short connection (accept, backend connect, one request and response, both closes)
     * it cost about a quarter less CPU than NIO and took about a third more connections per second in bench/tcp.sh's
     * {@code conn} bench on a quiet 2-core machine ({@code REPS=2 DURATION=8 bench/tcp.sh run}, both interleaved with nginx
     * {@code stream}: 118 µs (96-141) against 159 µs (146-172) per connection, 0.87x (0.83-0.91) against 0.65x
     * (0.61-0.69) nginx's rate; under a load of 15-30 the rate ratio was reversed in one run while its JIT was still
     * compiling, which is why the figures are quiet ones), and makes about 14 system calls
     * on its event loop where NIO makes about 40: NIO's {@code fcntl} pair to make each socket non-blocking, {@code
     * SO_LINGER} read twice, a {@code shutdown} and an {@code epoll_ctl(DEL)} before each close (Netty's and the JDK's
     * close paths) and {@code epoll_ctl} on every change of interest are not there, and io_uring batches its
     * submissions into one {@code io_uring_enter} per loop turn. It passes the same TCP tests, the half-close one below
     * among them. Where io_uring does not load (kernels before 5.14, or a seccomp profile that forbids it, as
     * container runtimes' default profiles do) NIO it is.
     *
     * <p>Why not epoll: Netty 4.2.18's epoll transport cannot wait for writability on a channel whose input the peer
     * shut down (a half-closed connection), so a TCP proxy on it loses the bytes queued for a slow client that sent
     * its FIN; {@code TcpProxyTest.aClientThatDoesNotReadStopsTheProxyReadingTheBackend} catches it. The sequence, read
     * from the 4.2.18 classes:
     *
     * <ol>
     *   <li>the peer's FIN arrives as EPOLLRDHUP; {@code epollRdHupReady} reads to the end of the stream and, with
     *       half-closure allowed, {@code shutdownInput} fires {@code ChannelInputShutdownEvent} and clears EPOLLIN
     *       (reads are off), then {@code clearEpollRdHup} clears EPOLLRDHUP;
     *   <li>with no write pending (no EPOLLOUT) the interest set is now empty, and {@code
     *       EpollIoHandler.DefaultEpollIoRegistration.submit(NONE)} removes the fd ({@code epoll_ctl(DEL)}) but leaves
     *       the registration's state {@code Added};
     *   <li>a later write the socket cannot take at once sets EPOLLOUT: {@code submit} sees {@code Added} and calls
     *       {@code epoll_ctl(MOD)}, which fails with ENOENT; the flush fails and the channel closes with its queued bytes.
     * </ol>
     *
     * Keeping reads on does not avoid it: once the end of the stream has been read twice, {@code epollInReady} clears
     * EPOLLIN whatever reads were asked for ({@code shouldBreakEpollInReady}), and no public API keeps another flag in
     * the set ({@code EpollSocketChannel} is final, the epoll mode is fixed to level-triggered). So the fix belongs in
     * Netty ({@code submit(NONE)} should return the registration to its not-added state, so the next flag is an ADD).
     * io_uring does not have that state.
     */
    public static Transport forTcp(Transport main) {
        return forTcp(main, System.getProperty("torii.transport", "auto"), IoUring.isAvailable());
    }

    /** {@link #forTcp(Transport)} given the {@code torii.transport} asked for and whether io_uring loads. */
    static Transport forTcp(Transport main, String wanted, boolean ioUringAvailable) {
        if (!main.name().equals("epoll")) {
            return main;
        }
        return ioUringAvailable && wanted.toLowerCase(Locale.ROOT).equals("auto") ? ioUring() : nio();
    }

    /**
     * A new, unregistered client socket channel of this transport for connecting to {@code remote}: what a {@code
     * Bootstrap} would make, without its reflection; for code that registers and connects the channel itself on an
     * event loop of this transport. On NIO the socket is of {@code remote}'s address family (an IPv4 socket for an IPv4
     * address spares the {@code IPV6_V6ONLY} call a dual-stack socket takes); the native transports open dual-stack
     * sockets only.
     *
     * <p>Every socket channel of these transports has {@code TCP_NODELAY} on from its construction (Netty's default
     * where the platform allows it, {@code PlatformDependent.canEnableTcpNoDelayByDefault}), so callers need not set
     * it again: each setting is a system call.
     */
    public Channel newSocketChannel(InetSocketAddress remote) {
        return switch (name) {
            case "epoll" -> new EpollSocketChannel();
            case "io_uring" -> new IoUringSocketChannel();
            default ->
                new NioSocketChannel(
                        SelectorProvider.provider(),
                        remote.getAddress() instanceof Inet4Address
                                ? SocketProtocolFamily.INET
                                : SocketProtocolFamily.INET6);
        };
    }

    /** Netty's native epoll transport (Linux). */
    static Transport epoll() {
        return new Transport(
                "epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class, EpollSocketChannel.class);
    }

    /** The NIO transport (every platform). */
    static Transport nio() {
        return new Transport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class);
    }

    /** Netty's io_uring transport (Linux 5.14+, where seccomp allows it). */
    static Transport ioUring() {
        return new Transport(
                "io_uring",
                IoUringIoHandler.newFactory(),
                IoUringServerSocketChannel.class,
                IoUringSocketChannel.class);
    }
}
