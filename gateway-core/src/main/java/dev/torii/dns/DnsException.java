package dev.torii.dns;

import java.io.Serial;
import java.net.UnknownHostException;
import java.util.Objects;

/**
 * Why a {@link DnsCache} lookup produced no answer. It is an {@link UnknownHostException}, so code written for the JDK
 * resolver handles it unchanged; {@link #reason()} says which kind of failure it was, and the message names the name,
 * the record type and, for upstream failures, the server and what it did.
 *
 * <p>Immutable and thread-safe.
 */
public final class DnsException extends UnknownHostException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** The kinds of lookup failure. */
    public enum Reason {
        /** The name does not exist (NXDOMAIN), after the whole search list was tried. */
        NAME_NOT_FOUND,
        /** The name exists but has no records of the asked types (an empty NOERROR answer). */
        NO_DATA,
        /** No upstream answered within the deadlines of all attempts. */
        TIMEOUT,
        /** Every attempt failed otherwise: an I/O error, a malformed response, or SERVFAIL, REFUSED, ... */
        UPSTREAM_FAILED,
        /** Too many upstream queries were in flight and the wait queue was full; nothing stale could be served. */
        OVERLOADED,
        /** The name cannot be a DNS name (empty, a label over 63 bytes, more than 255 bytes in all, ...). */
        INVALID_NAME,
        /** The cache was closed. */
        CLOSED
    }

    private final Reason reason;

    /** A failure of the given kind; {@code message} names what failed and how. */
    public DnsException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** The kind of failure. */
    public Reason reason() {
        return reason;
    }

    @Override
    public String getMessage() {
        return reason + ": " + super.getMessage();
    }
}
