package dev.torii.internal.tls;

import dev.torii.upstream.Endpoint;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamTls;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.nio.file.Files;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of TLS to upstreams: one {@link SslContext} per upstream definition (OpenSSL through
 * netty-tcnative when it is available, the JDK's provider otherwise), ALPN {@code h2} or {@code http/1.1} by the
 * upstream's protocol, and certificate and host-name verification as {@link UpstreamTls} says.
 */
public final class ClientTls {
    private static final Logger log = LoggerFactory.getLogger(ClientTls.class);

    private ClientTls() {}

    /** The context of a TLS upstream, or null for a plain one. Throws when the CA file cannot be used. */
    public static SslContext contextFor(Upstream upstream) {
        if (!upstream.protocol().tls()) {
            return null;
        }
        UpstreamTls tls = upstream.tls();
        boolean h2 = upstream.protocol().http2();
        SslContextBuilder b = SslContextBuilder.forClient()
                .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                .applicationProtocolConfig(new ApplicationProtocolConfig(
                        ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                        h2 ? ApplicationProtocolNames.HTTP_2 : ApplicationProtocolNames.HTTP_1_1));
        if (h2) {
            // RFC 9113 section 9.2.2: no blocklisted cipher suites on an HTTP/2 connection.
            b.ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE);
        }
        if (!tls.verify()) {
            log.warn(
                    "upstream '{}': TLS certificates are NOT verified (verify: false); traffic to it is encrypted but"
                            + " not authenticated",
                    upstream.name());
            b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        } else {
            b.endpointIdentificationAlgorithm("HTTPS");
            if (tls.caFile() != null) {
                if (!Files.isReadable(tls.caFile())) {
                    throw new IllegalArgumentException("upstream '" + upstream.name() + "' tls caFile: " + tls.caFile()
                            + " (expected: a readable PEM file of CA certificates)");
                }
                b.trustManager(tls.caFile().toFile());
            }
        }
        try {
            return b.build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "upstream '" + upstream.name() + "' tls"
                            + (tls.caFile() == null ? "" : " caFile: " + tls.caFile()) + ": cannot build the TLS"
                            + " context (" + e.getMessage() + ")",
                    e);
        }
    }

    /** The name sent as SNI and verified against the certificate: the configured server name or the endpoint's host. */
    public static String peerName(Upstream upstream, Endpoint endpoint) {
        String configured = upstream.tls().serverName();
        return configured != null ? configured : endpoint.host();
    }

    /**
     * A short reason for a failed handshake, for the log line: what kind of failure (certificate not trusted, name
     * mismatch, handshake timeout) and the deepest cause's message.
     */
    public static String reason(Throwable cause) {
        String detail = null;
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getMessage() != null) {
                detail = t.getMessage();
            }
        }
        if (detail == null) {
            detail = cause.toString();
        }
        String all = String.valueOf(cause) + " " + detail;
        if (all.contains("subject alternative") || all.contains("No name matching")) {
            return "certificate name mismatch: " + detail;
        }
        if (all.contains("PKIX") || all.contains("certification path") || all.contains("unable to get local issuer")) {
            return "certificate not trusted: " + detail;
        }
        if (cause instanceof SslHandshakeTimeoutException) {
            return "handshake timed out: " + detail;
        }
        return detail;
    }
}
