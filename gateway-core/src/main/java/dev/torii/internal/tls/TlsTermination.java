package dev.torii.internal.tls;

import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.ReferenceCountedOpenSslContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS side of one HTTPS listener: one {@link SslContext} per certificate, chosen by SNI through a mapping that
 * {@link #reloadIfChanged()} replaces when certificate files change. The mapping is read with one volatile load per
 * handshake; reloading reads files, so it runs on a background thread, never on an event loop.
 */
public final class TlsTermination implements Mapping<String, SslContext> {
    private static final Logger log = LoggerFactory.getLogger(TlsTermination.class);

    /**
     * Bytes of the native buffer each OpenSSL engine allocates up front for the TLS records BoringSSL writes while
     * Netty is feeding it input (handshake messages, alerts, key updates), 2,048 by Netty's default: 20 MB for 10,000
     * idle connections. A record that does not fit waits for the next wrap (the BIO reports a retry), so a smaller
     * buffer costs at most one more wrap during the handshake, never bytes.
     */
    static final int BIO_NON_APPLICATION_BUFFER = 512;

    private final String listener;
    private final ServerTls settings;
    private volatile Loaded loaded;

    /** The contexts built from one version of the files. */
    private record Loaded(Mapping<String, SslContext> mapping, List<FileTime> stamps, List<String> served) {}

    /** Loads every certificate; a file that cannot be read or parsed fails the start with a clear message. */
    public TlsTermination(String listener, ServerTls settings) {
        this.listener = listener;
        this.settings = settings;
        try {
            this.loaded = load();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("listener '" + listener + "' tls: " + e.getMessage(), e);
        }
        log.info(
                "listener '{}': TLS {} via {}, ALPN {}, certificates for {}",
                listener,
                settings.protocols(),
                provider() == SslProvider.OPENSSL ? "OpenSSL (" + OpenSsl.versionString() + ")" : "the JDK",
                settings.http2() ? "h2, http/1.1" : "http/1.1",
                loaded.served());
    }

    /** The provider this listener uses (decided once; {@code OPENSSL} where it does not load fails the start). */
    SslProvider provider() {
        return switch (settings.provider()) {
            case AUTO -> OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
            case JDK -> SslProvider.JDK;
            case OPENSSL -> {
                if (!OpenSsl.isAvailable()) {
                    throw new IllegalArgumentException("provider OPENSSL: netty-tcnative does not load here ("
                            + OpenSsl.unavailabilityCause() + "; expected: AUTO or JDK)");
                }
                yield SslProvider.OPENSSL;
            }
        };
    }

    @Override
    public SslContext map(String sniName) {
        return loaded.mapping().map(sniName == null ? null : sniName.toLowerCase(Locale.ROOT));
    }

    /**
     * Rebuilds the contexts when a certificate or key file changed since the last load. A failure keeps the current
     * contexts and is logged with the file and the reason. Returns whether new contexts are in use.
     */
    public boolean reloadIfChanged() {
        List<FileTime> now;
        try {
            now = stamps();
        } catch (IOException e) {
            log.warn("listener '{}' tls: cannot check certificate files: {}", listener, e.toString());
            return false;
        }
        if (now.equals(loaded.stamps())) {
            return false;
        }
        try {
            Loaded next = load();
            loaded = next;
            log.info("listener '{}' tls: certificates reloaded, serving {}", listener, next.served());
            return true;
        } catch (IOException | RuntimeException e) {
            log.warn(
                    "listener '{}' tls: reload failed, the previous certificates stay in use: {}",
                    listener,
                    e.getMessage());
            return false;
        }
    }

    private List<FileTime> stamps() throws IOException {
        var stamps = new ArrayList<FileTime>();
        for (CertificateFiles c : settings.certificates()) {
            stamps.add(Files.getLastModifiedTime(c.cert()));
            stamps.add(Files.getLastModifiedTime(c.key()));
        }
        return stamps;
    }

    private Loaded load() throws IOException {
        List<FileTime> stamps = stamps();
        DomainWildcardMappingBuilder<SslContext> builder = null;
        var served = new ArrayList<String>();
        for (CertificateFiles c : settings.certificates()) {
            SslContext context = context(c);
            List<String> names = c.names().isEmpty() ? subjectAltNames(c.cert()) : c.names();
            if (builder == null) {
                builder = new DomainWildcardMappingBuilder<>(context);
                served.add("(default) " + c.cert().getFileName());
            }
            for (String name : names) {
                builder.add(name.toLowerCase(Locale.ROOT), context);
                served.add(name);
            }
        }
        return new Loaded(builder.build(), stamps, List.copyOf(served));
    }

    private SslContext context(CertificateFiles c) throws IOException {
        requireReadable(c.cert(), "cert");
        requireReadable(c.key(), "key");
        ApplicationProtocolConfig alpn = new ApplicationProtocolConfig(
                ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                settings.http2()
                        ? List.of(ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1)
                        : List.of(ApplicationProtocolNames.HTTP_1_1));
        try {
            SslContext context = SslContextBuilder.forServer(
                            c.cert().toFile(), c.key().toFile())
                    .sslProvider(provider())
                    .protocols(settings.protocols().stream().sorted().toArray(String[]::new))
                    .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
                    .applicationProtocolConfig(alpn)
                    .build();
            if (context instanceof ReferenceCountedOpenSslContext openSsl) {
                openSsl.setBioNonApplicationBufferSize(BIO_NON_APPLICATION_BUFFER);
            }
            return context;
        } catch (IOException | RuntimeException e) {
            throw new IOException(
                    c.cert() + " + " + c.key() + ": " + e.getMessage()
                            + " (expected: a PEM certificate chain and its PEM private key)",
                    e);
        }
    }

    private static void requireReadable(Path file, String what) throws IOException {
        if (!Files.isReadable(file)) {
            throw new IOException(what + " " + file + ": not a readable file");
        }
    }

    /** The DNS names of a certificate's subjectAltName extension. */
    static List<String> subjectAltNames(Path certFile) throws IOException {
        try {
            var cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(certFile)));
            var names = new ArrayList<String>();
            var sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (((Integer) san.get(0)) == 2) {
                        names.add((String) san.get(1));
                    }
                }
            }
            return names;
        } catch (CertificateException e) {
            throw new IOException("cert " + certFile + ": " + e.getMessage() + " (expected: a PEM certificate)", e);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
