package dev.torii.internal.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.ProxyError;
import dev.torii.upstream.Upstream;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * HTTP/1.1 connects whose exchange left before they completed (a client resets stream after stream, as in an HTTP/2
 * rapid-reset flood) are adopted by the next exchanges rather than one more connect opened for each, and the
 * exchanges that left are never called back.
 */
class ConnectionPoolOrphanConnectTest {
    private static final int RESETS = 40;

    private MultiThreadIoEventLoopGroup group;
    private EventLoop loop;
    private ServerSocket origin;
    private ConnectionPool pool;

    @BeforeEach
    void start() throws IOException {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        loop = group.next();
        // Accepts nothing itself: the kernel completes the connects (backlog), which is all a connect needs.
        origin = new ServerSocket(0, 2 * RESETS, InetAddress.getLoopbackAddress());
        pool = new ConnectionPool(loop, NioSocketChannel.class, new LongAdder());
    }

    @AfterEach
    void stop() throws Exception {
        loop.submit(pool::close).get(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        origin.close();
    }

    @Test
    void connectsWhoseExchangesLeftAreAdoptedInsteadOfMoreOpened() throws Exception {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), origin.getLocalPort());
        UpstreamState state = new UpstreamState(Upstream.builder("app")
                .endpoint("127.0.0.1:" + origin.getLocalPort())
                .build());
        AtomicInteger callsToExchangesThatLeft = new AtomicInteger();
        CompletableFuture<UpstreamConnection> last = new CompletableFuture<>();
        int open = loop.submit(() -> {
                    // Each exchange asks for a connection and leaves before the connect completes.
                    for (int i = 0; i < RESETS; i++) {
                        ConnectionPool.Pending p = pool.acquire(
                                state, state.endpoint(0), address, false, new Counting(callsToExchangesThatLeft));
                        if (p != null) {
                            p.cancel();
                        }
                    }
                    pool.acquire(state, state.endpoint(0), address, false, new ConnectionPool.AcquireCallback() {
                        @Override
                        public void acquired(UpstreamConnection connection) {
                            last.complete(connection);
                        }

                        @Override
                        public void failed(ProxyError error, Throwable cause) {
                            last.completeExceptionally(cause);
                        }
                    });
                    return pool.openTo(address);
                })
                .get(5, TimeUnit.SECONDS);
        assertThat(open)
                .as("connections opened for %d reset exchanges and one more", RESETS)
                .isEqualTo(1);
        UpstreamConnection connection = last.get(5, TimeUnit.SECONDS);
        assertThat(connection.channel.isActive()).isTrue();
        loop.submit(() -> pool.release(connection, true)).get(5, TimeUnit.SECONDS);
        assertThat(callsToExchangesThatLeft).hasValue(0);
    }

    /** The callback of an exchange that left: counts the calls it should never get. */
    private record Counting(AtomicInteger calls) implements ConnectionPool.AcquireCallback {
        @Override
        public void acquired(UpstreamConnection connection) {
            calls.incrementAndGet();
        }

        @Override
        public void failed(ProxyError error, Throwable cause) {
            calls.incrementAndGet();
        }
    }
}
