package dev.torii.tls;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A certificate chain and its private key, as PEM files, served on a TLS listener.
 *
 * <p>Which client gets it is decided by SNI: by default the certificate serves the DNS names in its subjectAltName
 * extension (wildcards like {@code *.example.com} included), as Caddy and Envoy do; {@code names} overrides that
 * list. The first certificate of a listener is also its default, served to clients that send no SNI or a name no
 * certificate covers.
 *
 * @param cert the PEM certificate chain, leaf first
 * @param key the PEM private key (PKCS#8, or PKCS#1 RSA / SEC1 EC)
 * @param names the SNI names this certificate serves; empty: the DNS names of its subjectAltName
 */
public record CertificateFiles(Path cert, Path key, List<String> names) {
    public CertificateFiles {
        Objects.requireNonNull(cert, "cert");
        Objects.requireNonNull(key, "key");
        names = List.copyOf(names);
    }

    /** A certificate that serves the names in its subjectAltName. */
    public static CertificateFiles of(Path cert, Path key) {
        return new CertificateFiles(cert, key, List.of());
    }
}
