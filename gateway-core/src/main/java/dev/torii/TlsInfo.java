package dev.torii;

/**
 * What the TLS handshake of a client connection settled, as hooks see it ({@link Exchange#tls()}).
 *
 * @param protocol the TLS version, e.g. {@code TLSv1.3}
 * @param cipherSuite the cipher suite, e.g. {@code TLS_AES_128_GCM_SHA256}
 * @param serverName the SNI host name the client asked for, as sent (lower-cased), also when it is not a valid host
 *     name ({@code bad_name}, {@code a.test:443}; such a connection gets the default certificate); {@code null} when
 *     it sent none
 * @param applicationProtocol the ALPN protocol ({@code h2}, {@code http/1.1}), or {@code null} when none was agreed
 */
public record TlsInfo(String protocol, String cipherSuite, String serverName, String applicationProtocol) {}
