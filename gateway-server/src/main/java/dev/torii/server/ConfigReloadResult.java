package dev.torii.server;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What one configuration reload did ({@link ToriiServer#reload()}, SIGHUP, {@code POST /reload}). Immutable.
 *
 * <p>A reload applies the sections {@code ReloadStats.APPLIED_SECTIONS} lists; every other section needs a restart.
 * {@code notApplied} names the top-level sections (or {@code section.key} for the parts of an applied section that
 * cannot change live) that differ from the running file but were left as they run.
 *
 * @param applied whether the new routing table is in place (false: the file was refused and the old one runs on)
 * @param time when the reload finished
 * @param routes routes in the running table after the reload
 * @param upstreams upstreams in the running table after the reload
 * @param notApplied top-level sections that changed in the file but need a restart (empty when refused)
 * @param errors every problem, as {@code FILE:LINE:COLUMN: message}; empty when applied
 */
public record ConfigReloadResult(
        boolean applied, Instant time, int routes, int upstreams, List<String> notApplied, List<String> errors) {
    public ConfigReloadResult {
        Objects.requireNonNull(time, "time");
        notApplied = List.copyOf(notApplied);
        errors = List.copyOf(errors);
    }
}
