/**
 * HTTP/2 towards clients: {@link dev.torii.internal.http2.Http2Connections} sets up a connection (h2 after ALPN, h2c
 * with prior knowledge or after an HTTP/1.1 upgrade) with Netty's frame codec, a stream multiplexer and a guard against
 * SETTINGS/PING floods and idle connections; {@link dev.torii.internal.http2.H2StreamCodec} turns each stream's frames
 * into the HTTP/1.1-style objects that {@link dev.torii.internal.ProxyHandler} drives (one stream, one exchange);
 * {@link dev.torii.internal.http2.H2cSupport} detects the client preface and handles {@code Upgrade: h2c}. Not API.
 * Threading: a connection and all its stream channels run on the connection's event loop; nothing here blocks it.
 */
package dev.torii.internal.http2;
