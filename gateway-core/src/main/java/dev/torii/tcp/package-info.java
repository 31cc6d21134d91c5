/**
 * TCP listeners: raw byte streams proxied to an endpoint of an upstream, with {@link dev.torii.Phase#CONNECT} hooks
 * that may reject a client or choose its backend. See {@link dev.torii.tcp.TcpListener}.
 */
package dev.torii.tcp;
