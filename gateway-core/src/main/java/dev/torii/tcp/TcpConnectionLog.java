package dev.torii.tcp;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * The record of one finished TCP listener connection, for the connection log and the TCP metrics: handed to every
 * global hook's {@link dev.torii.Hook#onConnectionClosed} once the client connection has closed. Immutable.
 *
 * @param listener the TCP listener's name
 * @param client the client address (the PROXY protocol header's source when a trusted peer sent one)
 * @param sni the TLS server name read for SNI routing, or {@code null}
 * @param upstream the upstream chosen, or {@code null} when none was (rejected before)
 * @param backend the backend address connected to, or {@code null} when no connection was made
 * @param start when the connection was accepted
 * @param duration from accept to close
 * @param bytesFromClient bytes read from the client (relayed to the backend, or dropped when none was reached)
 * @param bytesToClient bytes read from the backend and relayed to the client
 * @param outcome how it ended
 */
public record TcpConnectionLog(
        String listener,
        InetSocketAddress client,
        String sni,
        String upstream,
        InetSocketAddress backend,
        Instant start,
        Duration duration,
        long bytesFromClient,
        long bytesToClient,
        Outcome outcome) {
    public TcpConnectionLog {
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(start, "start");
        Objects.requireNonNull(duration, "duration");
        Objects.requireNonNull(outcome, "outcome");
    }

    /** How a TCP listener connection ended. */
    public enum Outcome {
        /** Proxied to a backend; ended by either side or the idle timeout. */
        CLOSED,
        /** Refused before any backend: by a CONNECT hook, or for a server name without an SNI route. */
        REJECTED,
        /** No backend could be reached (resolution or connect failed), or the client left before one was. */
        NO_BACKEND;

        /** The lower-case name used in logs and metric tags. */
        public String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
