/**
 * TLS: {@link dev.torii.internal.tls.TlsTermination} holds an HTTPS listener's certificates (one context per
 * certificate, chosen by SNI, replaced when the files change) and {@link dev.torii.internal.tls.ClientTls} builds the
 * client contexts, peer names and failure reasons for TLS upstreams. Not API. Threading: a handshake reads the current
 * SNI mapping with one volatile load on the event loop; reloading reads files and runs on a background thread, never
 * on an event loop.
 */
package dev.torii.internal.tls;
