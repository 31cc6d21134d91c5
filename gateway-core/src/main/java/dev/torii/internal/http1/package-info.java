/**
 * The HTTP/1.1 server side of a client connection: {@link dev.torii.internal.http1.StrictServerCodec} (Netty's codec
 * with strict request lines, size limits and the obs-fold check, able to pause decoding after a WebSocket upgrade
 * request) and {@link dev.torii.internal.http1.RequestChecks} (RFC 9112 framing, {@code Host} and request-target
 * checks run before anything is forwarded). Not API. Threading: each codec instance belongs to one connection and is
 * used only on that connection's event loop; {@code RequestChecks} is stateless.
 */
package dev.torii.internal.http1;
