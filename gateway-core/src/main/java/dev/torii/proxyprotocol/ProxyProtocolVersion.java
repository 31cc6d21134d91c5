package dev.torii.proxyprotocol;

/** The version of the PROXY protocol header Torii sends to a backend: v1 (text) or v2 (binary). */
public enum ProxyProtocolVersion {
    /** The human-readable header: {@code PROXY TCP4 src dst sport dport\r\n}. */
    V1,
    /** The binary header (12-byte signature, then addresses). */
    V2
}
