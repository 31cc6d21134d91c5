package dev.torii.tls;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * TLS termination on a listener: certificates chosen by SNI, protocol versions, ALPN, and how often certificate files
 * are checked for changes. Immutable; build with {@link #builder()}.
 *
 * <p>ALPN offers {@code h2} and {@code http/1.1} (in that order of preference) unless {@code http2} is off. OpenSSL
 * (BoringSSL through netty-tcnative) is used where it loads, the JDK's provider otherwise; the log says which.
 * Changed certificate files are picked up without a restart: the gateway checks their modification times every
 * {@code reloadInterval} and builds new TLS contexts from them; a broken new file is reported and the previous
 * certificate stays in use.
 *
 * @param certificates at least one; the first is the default
 * @param protocols the TLS versions accepted: a subset of {@code TLSv1.2} and {@code TLSv1.3}
 * @param http2 whether ALPN offers {@code h2}
 * @param reloadInterval how often certificate files are checked for changes; {@link Duration#ZERO}: never
 * @param provider which TLS implementation serves the listener
 */
public record ServerTls(
        List<CertificateFiles> certificates,
        Set<String> protocols,
        boolean http2,
        Duration reloadInterval,
        Provider provider) {
    /** The TLS implementation. */
    public enum Provider {
        /** OpenSSL (BoringSSL from netty-tcnative) where it loads on this platform, else the JDK's. */
        AUTO,
        /** OpenSSL; the listener fails to start where netty-tcnative does not load. */
        OPENSSL,
        /** The JDK's TLS (e.g. for a FIPS-configured JDK provider). */
        JDK
    }

    /** The TLS versions Torii speaks. */
    public static final Set<String> SUPPORTED_PROTOCOLS = Set.of("TLSv1.2", "TLSv1.3");

    public ServerTls {
        certificates = List.copyOf(certificates);
        if (certificates.isEmpty()) {
            throw new IllegalArgumentException("tls certificates: none (expected: at least one cert + key)");
        }
        protocols = Set.copyOf(protocols);
        if (protocols.isEmpty() || !SUPPORTED_PROTOCOLS.containsAll(protocols)) {
            throw new IllegalArgumentException(
                    "tls protocols: " + protocols + " (expected: one or both of TLSv1.2, TLSv1.3)");
        }
        Objects.requireNonNull(reloadInterval, "reloadInterval");
        Objects.requireNonNull(provider, "provider");
        if (reloadInterval.isNegative()) {
            throw new IllegalArgumentException("tls reloadInterval: " + reloadInterval + " (expected: >= 0)");
        }
    }

    /** TLS 1.2 and 1.3, h2 and http/1.1, files checked every 10 s. */
    public static ServerTls of(CertificateFiles... certificates) {
        return builder().certificates(List.of(certificates)).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link ServerTls}. Not thread-safe. */
    public static final class Builder {
        private List<CertificateFiles> certificates = List.of();
        private Set<String> protocols = SUPPORTED_PROTOCOLS;
        private boolean http2 = true;
        private Duration reloadInterval = Duration.ofSeconds(10);
        private Provider provider = Provider.AUTO;

        private Builder() {}

        public Builder certificates(List<CertificateFiles> certificates) {
            this.certificates = certificates;
            return this;
        }

        public Builder protocols(Set<String> protocols) {
            this.protocols = protocols;
            return this;
        }

        public Builder http2(boolean http2) {
            this.http2 = http2;
            return this;
        }

        public Builder reloadInterval(Duration reloadInterval) {
            this.reloadInterval = reloadInterval;
            return this;
        }

        public Builder provider(Provider provider) {
            this.provider = provider;
            return this;
        }

        public ServerTls build() {
            return new ServerTls(certificates, protocols, http2, reloadInterval, provider);
        }
    }
}
