/**
 * TCP listeners: {@link dev.torii.internal.tcp.TcpProxyHandler} runs the CONNECT hooks for a client connection and
 * relays bytes both ways with back-pressure and half closure; {@code BackendConnector} connects it to the chosen
 * endpoint (one retry on another endpoint), {@code IdleTimeout} closes it when no byte has moved for the listener's
 * idle timeout; {@code DefaultConnection} is the {@link dev.torii.tcp.Connection} the hooks see.
 * Not API. Threading: a client connection and its backend connection share one event loop, on which every step runs;
 * an asynchronous hook result resumes on that loop.
 */
package dev.torii.internal.tcp;
