/** TLS termination settings for listeners: certificates chosen by SNI, versions, ALPN, reloading. */
package dev.torii.tls;
