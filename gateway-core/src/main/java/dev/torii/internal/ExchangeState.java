package dev.torii.internal;

import dev.torii.internal.tunnel.Tunnel;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where the exchanges of one client connection (HTTP/1.1) or one stream (HTTP/2) stand, with every transition that
 * is allowed declared once, in {@link #TRANSITIONS}. {@link ExchangeDriver#moveTo} is the one method that changes
 * it. docs/architecture.md ("The exchange state machine") has the table with the event behind each transition.
 *
 * <pre>
 *   IDLE ──── request head (checks passed) ───▶ REQUEST_HOOKS ───────────┐
 *    ▲ ▲                                            │ proceed             │  a hook responds or fails; 413;
 *    │ │                                            ▼                     │  no route; no endpoint; DNS,
 *    │ │                                         ROUTING ─────────────────┤  connect or upstream failure,
 *    │ │                                            │ route matched       │  bad or stalled request body,
 *    │ │                                            ▼                     │  before any response head
 *    │ │                                      UPSTREAM_HOOKS ─────────────┤
 *    │ │                                            │ proceed             │
 *    │ │                                            ▼                     │
 *    │ │                       stale ┌───────▶ CONNECTING ────────────────┤
 *    │ │                      reused │            │  ▲ connect failed:    │
 *    │ │                  connection │            │  └ one retry on       │
 *    │ │                             │            │    another endpoint   │
 *    │ │                             │            ▼ connection            │
 *    │ │                             └──────── FORWARDING ────────────────┤
 *    │ │                                            │ response head       ▼
 *    │ │                                      RESPONSE_HOOKS ───────▶ LOCAL_RESPONSE ───▶ DISCARDING
 *    │ │                                   101 │         │ proceed        │ written           │ the empty end
 *    │ │                                       ▼         ▼                │                   │ of a bodiless
 *    │ │                                    TUNNEL    RELAYING            │                   │ request read
 *    │ │                                                 │ last part      │                   │
 *    │ │                                                 ▼                │                   │
 *    │ └── keep-alive, request complete ──────────── FINISHING ◀──────────┘                   │
 *    └────────────────────────────────────────────────────────────────────────────────────────┘
 *   Every state but CLOSED ─▶ CLOSED: the client went away; an abort after the head went out; a connection
 *   not kept alive; an HTTP/2 stream's one exchange done; a tunnel's end; a bad head or a timeout in IDLE.
 * </pre>
 *
 * <p>Orthogonal to the state, and kept as flags by the driver: whether the request side is complete (its last part
 * read), whether a response head reached the client, and whether the client connection is kept alive.
 */
enum ExchangeState {
    /** Between exchanges: waiting for a request head. A connection (or stream) starts here. */
    IDLE,
    /** A request head was accepted and an exchange created; the global REQUEST hooks run. */
    REQUEST_HOOKS,
    /** The routing table is matched; the matched route's REQUEST hooks run. */
    ROUTING,
    /** The UPSTREAM hooks run (global, then the route's). */
    UPSTREAM_HOOKS,
    /** An endpoint is picked, its name resolved and a pooled connection acquired (or a retry on another one). */
    CONNECTING,
    /** The request head went upstream; its body streams on while the response head is awaited. */
    FORWARDING,
    /** The upstream's response head arrived; the RESPONSE hooks run over it (body parts are held meanwhile). */
    RESPONSE_HOOKS,
    /** The response head went to the client; the body is relayed with backpressure. */
    RELAYING,
    /** A local response (a hook answered, or an error) runs through the RESPONSE hooks and is written. */
    LOCAL_RESPONSE,
    /** A WebSocket upgrade succeeded: a {@link Tunnel} owns both connections until it closes. */
    TUNNEL,
    /** The response is complete; the exchange ends once the request side is complete too (or cannot be reused). */
    FINISHING,
    /** HTTP/1.1: the exchange ended; the empty end of its request is read and dropped before the next head. */
    DISCARDING,
    /** The connection (or stream) ends; nothing more is read or proxied. Terminal. */
    CLOSED;

    /** Every allowed transition, by source state. */
    private static final Map<ExchangeState, Set<ExchangeState>> TRANSITIONS = new EnumMap<>(ExchangeState.class);

    static {
        allow(IDLE, REQUEST_HOOKS);
        allow(REQUEST_HOOKS, ROUTING, LOCAL_RESPONSE);
        allow(ROUTING, UPSTREAM_HOOKS, LOCAL_RESPONSE);
        allow(UPSTREAM_HOOKS, CONNECTING, LOCAL_RESPONSE);
        // CONNECTING -> CONNECTING: a retry on another endpoint after a failed connect (one, or the route's policy).
        allow(CONNECTING, CONNECTING, FORWARDING, LOCAL_RESPONSE);
        // FORWARDING -> CONNECTING: one retry on a fresh connection when a reused one was found closed; or, by the
        // route's retry policy, another endpoint after a reset, a 502/503/504 head or a per-try timeout.
        allow(FORWARDING, CONNECTING, RESPONSE_HOOKS, LOCAL_RESPONSE);
        allow(RESPONSE_HOOKS, RELAYING, TUNNEL, LOCAL_RESPONSE);
        allow(RELAYING, FINISHING);
        allow(LOCAL_RESPONSE, FINISHING, DISCARDING);
        // FINISHING -> IDLE: HTTP/1.1 keep-alive, the next request.
        allow(FINISHING, IDLE);
        allow(DISCARDING, IDLE);
        allow(TUNNEL);
        for (ExchangeState s : values()) {
            if (s != CLOSED) {
                TRANSITIONS.get(s).add(CLOSED);
            }
        }
        TRANSITIONS.put(CLOSED, EnumSet.noneOf(ExchangeState.class));
    }

    private static void allow(ExchangeState from, ExchangeState... to) {
        Set<ExchangeState> targets = EnumSet.noneOf(ExchangeState.class);
        targets.addAll(List.of(to));
        TRANSITIONS.put(from, targets);
    }

    /** Whether the state machine may move from this state to {@code next}. */
    boolean allows(ExchangeState next) {
        return TRANSITIONS.get(this).contains(next);
    }

    /** The states this one may move to (a copy). */
    Set<ExchangeState> successors() {
        return EnumSet.copyOf(TRANSITIONS.get(this));
    }
}
