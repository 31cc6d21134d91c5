package dev.torii.upstream;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How the gateway checks the certificates of a TLS upstream ({@link UpstreamProtocol#HTTPS} or
 * {@link UpstreamProtocol#H2}). Immutable; {@link #DEFAULT} or {@link #builder()}.
 *
 * <p>By default the upstream's certificate chain must lead to a CA of the JDK's trust store and name the host the
 * gateway connects to: the endpoint's host name, or {@link #serverName()} when set (needed when endpoints are IP
 * literals whose certificates name a host). The same name is sent as SNI (never an IP literal, which SNI forbids).
 * With a {@link #caFile()}, only the CAs in that PEM file are trusted, not the JDK's.
 *
 * <p>{@code verify=false} accepts any certificate and any name: traffic is encrypted but not authenticated, so a
 * machine in the path can read and change it. It exists for upstreams whose certificates cannot be fixed (a
 * self-signed appliance) and is logged as a warning when an upstream uses it.
 *
 * @param caFile a PEM file of the CA certificates to trust instead of the JDK's trust store, or null
 * @param serverName the name to send as SNI and to verify the certificate against, or null for the endpoint's host
 * @param verify whether the certificate chain and name are verified (true unless explicitly turned off)
 */
public record UpstreamTls(Path caFile, String serverName, boolean verify) {
    /** Verify against the JDK trust store and the endpoint's host name. */
    public static final UpstreamTls DEFAULT = new UpstreamTls(null, null, true);

    public UpstreamTls {
        if (serverName != null) {
            serverName = serverName.strip();
            if (serverName.isEmpty() || !serverName.matches("[A-Za-z0-9.:\\[\\]_-]+")) {
                throw new IllegalArgumentException(
                        "tls serverName: '" + serverName + "' (expected: a host name such as api.internal)");
            }
        }
        if (caFile != null && !verify) {
            throw new IllegalArgumentException("tls caFile: " + caFile
                    + " with verify: false (expected: one or the other; a CA is only used to verify)");
        }
    }

    /** A builder starting from {@link #DEFAULT}. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds an {@link UpstreamTls}. Not thread-safe. */
    public static final class Builder {
        private Path caFile;
        private String serverName;
        private boolean verify = true;

        private Builder() {}

        /** Trusts only the CA certificates in this PEM file (instead of the JDK's trust store). */
        public Builder caFile(Path caFile) {
            this.caFile = Objects.requireNonNull(caFile, "caFile");
            return this;
        }

        /** The name sent as SNI and verified against the certificate (default: the endpoint's host). */
        public Builder serverName(String serverName) {
            this.serverName = Objects.requireNonNull(serverName, "serverName");
            return this;
        }

        /** Accepts any certificate: encrypted, not authenticated. Only for upstreams whose certificates can't be fixed. */
        public Builder insecureSkipVerify() {
            this.verify = false;
            return this;
        }

        public UpstreamTls build() {
            return new UpstreamTls(caFile, serverName, verify);
        }
    }
}
