package dev.torii.server.config;

import dev.torii.log.AccessLogFormat;
import java.net.URI;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code accessLog:} and {@code tracing:} sections and the admin API's bearer token ({@code admin.token}).
 * Immutable.
 *
 * @param accessLog the access log, if configured
 * @param tracing OpenTelemetry tracing, if configured (off without the section)
 * @param adminToken the bearer token the admin API requires, if set in the file (the environment variable
 *     {@code TORII_ADMIN_TOKEN} is the other source; see {@link #effectiveAdminToken})
 */
public record ObservabilitySettings(
        Optional<AccessLog> accessLog, Optional<Tracing> tracing, Optional<String> adminToken) {
    /** The environment variable that holds the admin API's token when the file does not. */
    public static final String ADMIN_TOKEN_ENV = "TORII_ADMIN_TOKEN";

    public ObservabilitySettings {
        Objects.requireNonNull(accessLog, "accessLog");
        Objects.requireNonNull(tracing, "tracing");
        Objects.requireNonNull(adminToken, "adminToken");
    }

    /** No access log, no tracing, no token in the file. */
    public static ObservabilitySettings defaults() {
        return new ObservabilitySettings(Optional.empty(), Optional.empty(), Optional.empty());
    }

    /** The file's {@code admin.token}, else {@code TORII_ADMIN_TOKEN} when set and not blank. */
    public Optional<String> effectiveAdminToken() {
        if (adminToken.isPresent()) {
            return adminToken;
        }
        String env = System.getenv(ADMIN_TOKEN_ENV);
        return env == null || env.isBlank() ? Optional.empty() : Optional.of(env.strip());
    }

    /**
     * {@code accessLog: { format, path }}.
     *
     * @param format {@code json} (default) or {@code combined}
     * @param path the file to append to; empty for standard output
     */
    public record AccessLog(AccessLogFormat format, Optional<Path> path) {
        public AccessLog {
            Objects.requireNonNull(format, "format");
            Objects.requireNonNull(path, "path");
        }
    }

    /**
     * {@code tracing: { endpoint, samplingRatio, serviceName }}.
     *
     * @param endpoint the OTLP/HTTP traces endpoint, e.g. {@code http://127.0.0.1:4318/v1/traces}
     * @param samplingRatio the share of new traces kept, 0 to 1 (a client's sampled flag is followed)
     * @param serviceName the {@code service.name} resource attribute
     */
    public record Tracing(URI endpoint, double samplingRatio, String serviceName) {
        public Tracing {
            Objects.requireNonNull(endpoint, "endpoint");
            Objects.requireNonNull(serviceName, "serviceName");
        }
    }
}
