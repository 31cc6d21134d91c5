/**
 * The upstream side of an exchange: {@link dev.torii.internal.upstream.UpstreamState} (an upstream's endpoints and
 * load balancer), {@link dev.torii.internal.upstream.EndpointResolver} (an endpoint's address, a literal IP at once, a
 * name through the DNS cache), {@link dev.torii.internal.upstream.ConnectionPool} (one per event loop: idle HTTP/1.1
 * connections, shared HTTP/2 connections and their keepalive PINGs) and the connections it lends,
 * {@link dev.torii.internal.upstream.UpstreamConnection} (one HTTP/1.1 connection or one HTTP/2 stream) and
 * {@code Http2UpstreamConnection}, which report to an {@link dev.torii.internal.upstream.UpstreamListener}. Not API.
 * Threading: a pool and its connections are confined to their event loop and are not locked; {@code UpstreamState}'s
 * load-balancer counters are shared across loops through atomics; DNS lookups complete on the caller's loop.
 */
package dev.torii.internal.upstream;
