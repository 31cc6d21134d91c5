package dev.torii.server.config;

import java.util.Objects;

/**
 * The {@code admin:} section: where the admin API ({@code /healthz}, {@code /readyz}, {@code /metrics}, ...) listens.
 * Immutable.
 *
 * @param host the IP address to bind (keep it on loopback or a private interface: the API has no authentication)
 * @param port the port, 0 for any free one
 */
public record AdminSettings(String host, int port) {
    public AdminSettings {
        Objects.requireNonNull(host, "host");
    }
}
