package dev.torii.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TransportTest {
    @Test
    void tcpListenersTakeNioInsteadOfEpoll() {
        assertThat(Transport.forTcp(Transport.epoll()).name()).isEqualTo("nio");
    }

    @Test
    void tcpListenersKeepEveryOtherTransport() {
        Transport nio = Transport.nio();
        assertThat(Transport.forTcp(nio)).isSameAs(nio);
        Transport ioUring = Transport.ioUring();
        assertThat(Transport.forTcp(ioUring)).isSameAs(ioUring);
    }
}
