/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): a load balancer in front of Torii tells it the client's address in
 * a header before the connection's first byte ({@link dev.torii.proxyprotocol.ProxyProtocolAccept}), and Torii tells a
 * TCP backend the same way ({@link dev.torii.proxyprotocol.ProxyProtocolVersion}).
 */
package dev.torii.proxyprotocol;
