package dev.torii.internal.http2;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Converts the HTTP/1.1 response head that {@link dev.torii.internal.ProxyHandler} relays into the HTTP/2 header block
 * of a stream's HEADERS frame ({@link #of}), with the same result as Netty's {@link HttpConversionUtil} at a fraction
 * of its allocations. The common case (fields an HTTP/1.1 upstream sends, under any spelling) is converted here; a head
 * with a field that HTTP/2 rewrites goes through Netty's converter whole, so the two can never disagree.
 *
 * <p>Stateless and thread-safe: the tables are immutable and shared by every stream.
 */
final class H2ResponseHeaders {
    private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
    private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");

    /**
     * The fields Netty's converter drops from every head (connection-specific ones, and the extension fields Netty's
     * own HTTP/2-to-HTTP/1.1 conversion adds, such as {@code x-http2-stream-id} on a response from an h2 upstream).
     */
    private static final Set<AsciiString> DROPPED_RESPONSE_FIELDS = Set.of(
            HttpHeaderNames.CONNECTION,
            KEEP_ALIVE,
            PROXY_CONNECTION,
            HttpHeaderNames.TRANSFER_ENCODING,
            HttpHeaderNames.HOST,
            HttpHeaderNames.UPGRADE,
            HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text(),
            HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(),
            HttpConversionUtil.ExtensionHeaderNames.PATH.text(),
            HttpConversionUtil.ExtensionHeaderNames.PROTOCOL.text());
    /**
     * Fields Netty's converter rewrites ({@code te} filtered, {@code cookie} split into crumbs) or that a
     * {@code Connection: close} would name: a head with one of them goes through Netty's converter.
     */
    private static final Set<AsciiString> SPECIAL_RESPONSE_FIELDS =
            Set.of(HttpHeaderNames.TE, HttpHeaderNames.COOKIE, HttpHeaderValues.CLOSE);
    /** The prefix of Netty's extension fields: those it does not drop are left to its converter. */
    private static final AsciiString NETTY_EXTENSION_PREFIX = AsciiString.cached("x-http2-");
    /** Stands for a dropped field in {@link #plainLowerCaseName}. */
    private static final AsciiString DROP = new AsciiString("");

    /**
     * Lower-case names of the response fields that upstreams send most, keyed by the spellings they send them in: a
     * name decoded from an HTTP/1.1 head is a {@link String}, and lower-casing it anew would copy it twice per field.
     */
    private static final Map<String, AsciiString> COMMON_RESPONSE_NAMES = commonResponseNames();
    /**
     * The same names keyed by {@link AsciiString}s of the same spellings: Netty's HTTP/1.1 decoder (an upstream's
     * response) gives names as {@link AsciiString}, and {@code Content-Type} copied into {@code content-type} for
     * every field of every response was most of this conversion's allocation.
     */
    private static final Map<AsciiString, AsciiString> COMMON_ASCII_RESPONSE_NAMES = asciiKeys(COMMON_RESPONSE_NAMES);

    private H2ResponseHeaders() {}

    /**
     * The HTTP/2 form of a response head: {@code :status}, then the fields under lower-case names. What a proxy relays
     * has lost its hop-by-hop fields already but for the {@code Connection: close} every stream's response gets (and,
     * from an h2 upstream, Netty's {@code x-http2-stream-id}), which are dropped here as Netty drops them; a head with a
     * field HTTP/2 rewrites ({@link #SPECIAL_RESPONSE_FIELDS}, other {@code Connection} tokens) goes through Netty's
     * {@link HttpConversionUtil}, so the result always equals what that converter makes, at a fraction of its
     * allocations (it copies every name twice and builds a map of the {@code Connection} tokens for each head).
     */
    static Http2Headers of(HttpResponse response) {
        HttpHeaders in = response.headers();
        Http2Headers out = new DefaultHttp2Headers(false, in.size());
        out.status(response.status().codeAsText());
        Iterator<Map.Entry<CharSequence, CharSequence>> fields = in.iteratorCharSequence();
        while (fields.hasNext()) {
            Map.Entry<CharSequence, CharSequence> field = fields.next();
            AsciiString name = plainLowerCaseName(field.getKey());
            if (name == null) {
                return HttpConversionUtil.toHttp2Headers(response, false);
            }
            if (name == DROP) {
                // Connection names fields to drop too: only close and keep-alive (every h2 response carries the
                // former, as a stream is never kept alive) name none this loop keeps.
                if (HttpHeaderNames.CONNECTION.contentEqualsIgnoreCase(field.getKey())) {
                    CharSequence tokens = field.getValue();
                    if (!HttpHeaderValues.CLOSE.contentEqualsIgnoreCase(tokens)
                            && !KEEP_ALIVE.contentEqualsIgnoreCase(tokens)) {
                        return HttpConversionUtil.toHttp2Headers(response, false);
                    }
                }
                continue;
            }
            out.add(name, field.getValue());
        }
        return out;
    }

    /**
     * {@code name} in lower case, {@link #DROP} for a field Netty's converter drops, or {@code null} for one it
     * rewrites.
     */
    private static AsciiString plainLowerCaseName(CharSequence name) {
        AsciiString lower;
        if (name instanceof String s) {
            lower = COMMON_RESPONSE_NAMES.get(s);
            if (lower != null) {
                return lower;
            }
            lower = new AsciiString(s).toLowerCase();
        } else if (name instanceof AsciiString ascii) {
            lower = COMMON_ASCII_RESPONSE_NAMES.get(ascii);
            if (lower != null) {
                return lower;
            }
            lower = ascii.toLowerCase();
        } else {
            lower = AsciiString.of(name).toLowerCase();
        }
        if (DROPPED_RESPONSE_FIELDS.contains(lower)) {
            return DROP;
        }
        if (SPECIAL_RESPONSE_FIELDS.contains(lower) || lower.startsWith(NETTY_EXTENSION_PREFIX)) {
            return null;
        }
        return lower;
    }

    private static Map<String, AsciiString> commonResponseNames() {
        AsciiString[] names = {
            HttpHeaderNames.ACCEPT_RANGES,
            HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN,
            HttpHeaderNames.AGE,
            HttpHeaderNames.CACHE_CONTROL,
            HttpHeaderNames.CONTENT_ENCODING,
            HttpHeaderNames.CONTENT_LENGTH,
            HttpHeaderNames.CONTENT_TYPE,
            HttpHeaderNames.DATE,
            HttpHeaderNames.ETAG,
            HttpHeaderNames.EXPIRES,
            HttpHeaderNames.LAST_MODIFIED,
            HttpHeaderNames.LOCATION,
            HttpHeaderNames.SERVER,
            HttpHeaderNames.SET_COOKIE,
            HttpHeaderNames.VARY,
            HttpHeaderNames.VIA
        };
        Map<String, AsciiString> byName = new java.util.HashMap<>();
        for (AsciiString name : names) {
            byName.put(name.toString(), name);
            byName.put(capitalized(name.toString()), name);
        }
        byName.put("ETag", HttpHeaderNames.ETAG);
        return Map.copyOf(byName);
    }

    private static Map<AsciiString, AsciiString> asciiKeys(Map<String, AsciiString> byName) {
        Map<AsciiString, AsciiString> byAscii = new java.util.HashMap<>();
        byName.forEach((spelling, name) -> byAscii.put(AsciiString.cached(spelling), name));
        return Map.copyOf(byAscii);
    }

    /** {@code content-type} as {@code Content-Type}: the spelling HTTP/1.1 servers use. */
    private static String capitalized(String name) {
        StringBuilder b = new StringBuilder(name.length());
        boolean start = true;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            b.append(start ? Character.toUpperCase(c) : c);
            start = c == '-';
        }
        return b.toString();
    }
}
