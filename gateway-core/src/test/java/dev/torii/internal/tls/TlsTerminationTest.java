package dev.torii.internal.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.torii.testing.TestCertificates;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.ReferenceCountedOpenSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TlsTerminationTest {
    private static TestCertificates certs;
    private static TestCertificates.Issued site;

    @BeforeAll
    static void issue() throws Exception {
        certs = TestCertificates.create();
        site = certs.issue("a.test");
    }

    @AfterAll
    static void close() {
        if (certs != null) {
            certs.close();
        }
    }

    private static SslContext openSslContext() {
        assumeThat(OpenSsl.isAvailable()).as("netty-tcnative loads here").isTrue();
        var termination = new TlsTermination(
                "secure",
                ServerTls.builder()
                        .certificates(List.of(CertificateFiles.of(site.cert(), site.key())))
                        .provider(ServerTls.Provider.OPENSSL)
                        .build());
        return termination.map("a.test");
    }

    @Test
    void eachOpenSslEngineGetsASmallNonApplicationBufferInsteadOfNettysTwoKilobytes() {
        var context = (ReferenceCountedOpenSslContext) openSslContext();

        assertThat(context.getBioNonApplicationBufferSize())
                .isEqualTo(TlsTermination.BIO_NON_APPLICATION_BUFFER)
                .isLessThan(2048);
    }

    @Test
    void handshakesWhoseServerFlightIsLargerThanThatBufferStillComplete() throws Exception {
        SslContext server = openSslContext();
        SslContext client = SslContextBuilder.forClient()
                .sslProvider(SslProvider.JDK)
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .build();
        SSLEngine serverEngine = server.newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine clientEngine = client.newEngine(ByteBufAllocator.DEFAULT, "a.test", 443);
        try {
            int serverFlight = handshake(clientEngine, serverEngine);

            assertThat(serverFlight)
                    .as("bytes the server sent (its certificate chain is in them)")
                    .isGreaterThan(TlsTermination.BIO_NON_APPLICATION_BUFFER);
            assertThat(serverEngine.getSession().getProtocol()).startsWith("TLSv1.");
            assertThat(clientEngine.getHandshakeStatus()).isEqualTo(HandshakeStatus.NOT_HANDSHAKING);
            assertThat(serverEngine.getHandshakeStatus()).isEqualTo(HandshakeStatus.NOT_HANDSHAKING);
        } finally {
            ReferenceCountUtil.release(serverEngine);
            ReferenceCountUtil.release(server);
        }
    }

    /** Runs both engines against each other in memory; returns the bytes the server wrote. */
    private static int handshake(SSLEngine client, SSLEngine server) throws Exception {
        int size = Math.max(
                client.getSession().getPacketBufferSize(), server.getSession().getPacketBufferSize());
        ByteBuffer toServer = ByteBuffer.allocate(8 * size);
        ByteBuffer toClient = ByteBuffer.allocate(8 * size);
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer appIn = ByteBuffer.allocate(8 * size);
        client.beginHandshake();
        server.beginHandshake();
        int serverBytes = 0;
        for (int round = 0; round < 200; round++) {
            if (client.getHandshakeStatus() == HandshakeStatus.NOT_HANDSHAKING
                    && server.getHandshakeStatus() == HandshakeStatus.NOT_HANDSHAKING) {
                return serverBytes;
            }
            client.wrap(empty, toServer);
            runTasks(client);
            toServer.flip();
            server.unwrap(toServer, appIn);
            runTasks(server);
            toServer.compact();
            int before = toClient.position();
            server.wrap(empty, toClient);
            runTasks(server);
            serverBytes += toClient.position() - before;
            toClient.flip();
            client.unwrap(toClient, appIn);
            runTasks(client);
            toClient.compact();
        }
        throw new AssertionError("no handshake after 200 rounds: client " + client.getHandshakeStatus() + ", server "
                + server.getHandshakeStatus());
    }

    private static void runTasks(SSLEngine engine) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }
}
