package dev.torii.upstream;

import java.util.Locale;

/**
 * How the gateway speaks to an upstream's endpoints. Chosen per {@link Upstream}; the client side of an exchange is
 * independent of it (an HTTP/1.1 client can be served by an HTTP/2 upstream and the other way round).
 *
 * <p>HTTP/2 upstreams ({@link #H2C}, {@link #H2}) are multiplexed: the exchanges of one event loop share a few
 * connections per endpoint, each carrying as many concurrent streams as the upstream's
 * {@code SETTINGS_MAX_CONCURRENT_STREAMS} allows. TLS upstreams ({@link #HTTPS}, {@link #H2}) verify the upstream's
 * certificate as {@link UpstreamTls} says.
 */
public enum UpstreamProtocol {
    /** HTTP/1.1 over plain TCP, one exchange per connection at a time (the default). Config name {@code http1}. */
    HTTP_1_1("http1", false, false),
    /** HTTP/2 over plain TCP with prior knowledge (no upgrade). Config name {@code h2c}. */
    H2C("h2c", false, true),
    /** HTTP/1.1 over TLS, offering {@code http/1.1} by ALPN. Config name {@code https}. */
    HTTPS("https", true, false),
    /** HTTP/2 over TLS, negotiated by ALPN ({@code h2}); an upstream that does not select it fails the connect. */
    H2("h2", true, true);

    private final String configName;
    private final boolean tls;
    private final boolean http2;

    UpstreamProtocol(String configName, boolean tls, boolean http2) {
        this.configName = configName;
        this.tls = tls;
        this.http2 = http2;
    }

    /** The name used in configuration files: {@code http1}, {@code h2c}, {@code https} or {@code h2}. */
    public String configName() {
        return configName;
    }

    /** Whether connections use TLS. */
    public boolean tls() {
        return tls;
    }

    /** Whether connections speak HTTP/2 (and are shared by concurrent exchanges). */
    public boolean http2() {
        return http2;
    }

    /** The protocol with config name {@code name} (case-insensitive). */
    public static UpstreamProtocol ofConfigName(String name) {
        String n = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
        for (UpstreamProtocol p : values()) {
            if (p.configName.equals(n)) {
                return p;
            }
        }
        throw new IllegalArgumentException("protocol: '" + name + "' (expected one of: http1, h2c, https, h2)");
    }
}
