/**
 * PROXY protocol handling: {@link dev.torii.internal.proxyprotocol.ProxyProtocolHandler} reads the header of a trusted
 * peer (Netty's {@code HAProxyMessageDecoder}) and records the client address it carries on the channel, where
 * {@link dev.torii.internal.proxyprotocol.ClientAddresses} is the one place the engine asks for a client's address.
 * Not API. Threading: everything runs on the connection's event loop.
 */
package dev.torii.internal.proxyprotocol;
