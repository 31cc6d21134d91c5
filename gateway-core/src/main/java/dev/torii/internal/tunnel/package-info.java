/**
 * Byte tunnels: {@link dev.torii.internal.tunnel.WebSocketUpgrade} recognises and checks a WebSocket upgrade (HTTP/1.1
 * {@code Upgrade} and HTTP/2 extended CONNECT), and {@link dev.torii.internal.tunnel.Tunnel} then relays bytes both
 * ways between the client (a connection or an HTTP/2 stream) and the upstream connection, with back-pressure, half
 * closure and an idle timeout. Not API. Threading: both ends of a tunnel share one event loop, on which all of its
 * work runs.
 */
package dev.torii.internal.tunnel;
