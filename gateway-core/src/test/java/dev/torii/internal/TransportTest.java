package dev.torii.internal;

import static org.assertj.core.api.Assertions.assertThat;

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
}
