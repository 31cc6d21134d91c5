package dev.torii.server.config;

import dev.torii.maintenance.MaintenanceMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The configuration's {@code maintenance} section: how the gateway's maintenance switch starts. Immutable (the page
 * bytes are not copied; nothing changes them).
 *
 * @param enabled whether the switch starts on
 * @param file the flag file (maintenance is on while it exists), resolved against the configuration's directory
 * @param page the page's bytes as read when the configuration was read; empty: the error responder's text
 * @param contentType the page's media type
 * @param retryAfter the {@code Retry-After} sent with the page
 * @param bypass client address blocks that pass while maintenance is on
 * @param respond whether the gateway answers while on ({@code false}: plugins decide, reading
 *     {@code torii.maintenance.enabled})
 */
public record MaintenanceSettings(
        boolean enabled,
        Optional<Path> file,
        Optional<byte[]> page,
        String contentType,
        Duration retryAfter,
        List<String> bypass,
        boolean respond) {
    public MaintenanceSettings {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(page, "page");
        Objects.requireNonNull(retryAfter, "retryAfter");
        bypass = List.copyOf(bypass);
    }

    /** A file without a {@code maintenance} section: off, no flag file, the default page, Retry-After 300 s. */
    public static MaintenanceSettings defaults() {
        return new MaintenanceSettings(
                false,
                Optional.empty(),
                Optional.empty(),
                "text/plain; charset=utf-8",
                Duration.ofSeconds(300),
                List.of(),
                true);
    }

    /** A new switch with these settings (its flag-file poller starts with the gateway). */
    public MaintenanceMode newMode() {
        MaintenanceMode.Builder b = MaintenanceMode.builder()
                .enabled(enabled)
                .retryAfter(retryAfter)
                .bypass(bypass)
                .respond(respond);
        file.ifPresent(b::file);
        page.ifPresent(p -> b.page(p, contentType));
        return b.build();
    }
}
