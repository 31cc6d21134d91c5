package dev.torii.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TransportTest {
    @Test
    void tcpListenersTakeIoUringInsteadOfAnAutoDetectedEpollWhereItLoads() {
        assertThat(Transport.forTcp(Transport.epoll(), "auto", true).name()).isEqualTo("io_uring");
    }

    @Test
    void tcpListenersTakeNioInsteadOfEpollWhereIoUringDoesNotLoad() {
        assertThat(Transport.forTcp(Transport.epoll(), "auto", false).name()).isEqualTo("nio");
    }

    @Test
    void tcpListenersTakeNioWhenEpollWasAskedForByName() {
        assertThat(Transport.forTcp(Transport.epoll(), "epoll", true).name()).isEqualTo("nio");
    }

    @Test
    void tcpListenersKeepEveryOtherTransport() {
        Transport nio = Transport.nio();
        assertThat(Transport.forTcp(nio, "nio", true)).isSameAs(nio);
        Transport ioUring = Transport.ioUring();
        assertThat(Transport.forTcp(ioUring, "io_uring", true)).isSameAs(ioUring);
    }

    /**
     * Listeners and the TCP proxy's backend connect do not set TCP_NODELAY themselves (one system call per connection
     * fewer): they rely on every transport turning it on when a socket channel is constructed. This fails if a Netty
     * upgrade or a new transport stops doing so.
     */
    @Test
    void acceptedAndNewClientChannelsHaveNagleOffOnEveryTransportThatLoadsHere() throws Exception {
        List<Transport> transports = new ArrayList<>(List.of(Transport.nio()));
        if (io.netty.channel.epoll.Epoll.isAvailable()) {
            transports.add(Transport.epoll());
        }
        if (io.netty.channel.uring.IoUring.isAvailable()) {
            transports.add(Transport.ioUring());
        }
        for (Transport transport : transports) {
            Channel client = transport.newSocketChannel(new InetSocketAddress("127.0.0.1", 9));
            try {
                assertThat(client.config().getOption(ChannelOption.TCP_NODELAY))
                        .as("%s: a new client channel", transport.name())
                        .isTrue();
            } finally {
                client.unsafe().closeForcibly();
            }
            EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, transport.ioHandlerFactory());
            try {
                CompletableFuture<Boolean> noDelay = new CompletableFuture<>();
                Channel server = new ServerBootstrap()
                        .group(group)
                        .channel(transport.serverChannel())
                        .childHandler(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelActive(ChannelHandlerContext ctx) {
                                noDelay.complete(ctx.channel().config().getOption(ChannelOption.TCP_NODELAY));
                                ctx.close();
                            }
                        })
                        .bind(new InetSocketAddress("127.0.0.1", 0))
                        .sync()
                        .channel();
                try (Socket socket = new Socket()) {
                    socket.connect(server.localAddress(), 5_000);
                    assertThat(noDelay.get(5, TimeUnit.SECONDS))
                            .as("%s: an accepted channel", transport.name())
                            .isTrue();
                } finally {
                    server.close().sync();
                }
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
        }
    }
}
