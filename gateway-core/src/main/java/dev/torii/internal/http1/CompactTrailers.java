package dev.torii.internal.http1;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * The trailers of the {@code LastHttpContent} that Netty's HTTP/1.1 decoders make for every message with a body: the
 * same validation as Netty's {@link DefaultHttpHeadersFactory#trailersFactory()}, in a table sized for the empty
 * trailers nearly every message has (two slots instead of sixteen). Every proxied response with a body, and every
 * request with one, allocates such a table.
 *
 * <p>Thread-safe: stateless.
 */
public final class CompactTrailers implements HttpHeadersFactory {
    /** Netty's trailer validation, compact tables. */
    public static final CompactTrailers FACTORY = new CompactTrailers(DefaultHttpHeadersFactory.trailersFactory());

    /** The slots of a trailers table: a power of two, Netty's minimum. */
    private static final int SLOTS = 2;

    private final DefaultHttpHeadersFactory validation;

    private CompactTrailers(DefaultHttpHeadersFactory validation) {
        this.validation = validation;
    }

    /** {@code config} (changed in place and returned) with compact trailers, unless it has a factory of its own. */
    public static HttpDecoderConfig applyTo(HttpDecoderConfig config) {
        if (config.getTrailersFactory() == DefaultHttpHeadersFactory.trailersFactory()) {
            config.setTrailersFactory(FACTORY);
        }
        return config;
    }

    @Override
    public HttpHeaders newHeaders() {
        return new Trailers(validation);
    }

    @Override
    public HttpHeaders newEmptyHeaders() {
        return new Trailers(validation);
    }

    private static final class Trailers extends DefaultHttpHeaders {
        Trailers(DefaultHttpHeadersFactory validation) {
            super(validation.getNameValidator(), validation.getValueValidator(), SLOTS);
        }
    }
}
