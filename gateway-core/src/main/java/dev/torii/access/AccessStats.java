package dev.torii.access;

/**
 * Counters of {@link AccessControl}. Immutable snapshot.
 *
 * @param deniedRequests HTTP requests answered 403 (ACCESS_DENIED)
 * @param deniedConnections TCP connections closed at connect time
 * @param reloads list files (re)loaded
 * @param reloadFailures list files that could not be read or parsed (the previous list stayed in use)
 */
public record AccessStats(long deniedRequests, long deniedConnections, long reloads, long reloadFailures) {}
