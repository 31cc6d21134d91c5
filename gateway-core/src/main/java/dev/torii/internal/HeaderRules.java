package dev.torii.internal;

import dev.torii.Forwarding;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The header rules of a forwarding proxy: hop-by-hop fields (RFC 9110 section 7.6.1) removed in both directions,
 * forwarding headers added to requests, and the message framing set by the proxy itself, never copied from what the
 * client or the upstream claimed.
 */
final class HeaderRules {
    private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
    /** Hop-by-hop (RFC 9110 section 7.6.1); Netty deprecates its constant because HTTP/2 forbids the field. */
    private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");

    private static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
    private static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
    private static final AsciiString X_FORWARDED_HOST = AsciiString.cached("x-forwarded-host");

    private HeaderRules() {}

    // Bits for the fields a single pass over a head finds (scan): the hop-by-hop ones and those the rules below read.
    private static final int CONNECTION = 1;
    private static final int KEEP_ALIVE_BIT = 1 << 1;
    private static final int PROXY_CONNECTION_BIT = 1 << 2;
    private static final int TE = 1 << 3;
    private static final int UPGRADE = 1 << 4;
    private static final int TRANSFER_ENCODING = 1 << 5;
    private static final int EXPECT = 1 << 6;
    private static final int CONTENT_LENGTH = 1 << 7;
    private static final int VIA = 1 << 8;
    private static final int XFF = 1 << 9;
    private static final int XFP = 1 << 10;
    private static final int XFH = 1 << 11;
    /** More than one Connection field. */
    private static final int CONNECTIONS = 1 << 12;

    /**
     * Which of the fields this class looks at are in {@code h}, in one pass over its entries: a head carries a handful
     * of fields, and a name is told apart by its length before it is compared, where a lookup per name would hash each
     * of a dozen names against the head (the proxy does this for every request and every response).
     */
    static int scan(HttpHeaders h) {
        int present = 0;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
            int bit = bit(it.next().getKey());
            if ((bit & present & CONNECTION) != 0) {
                present |= CONNECTIONS;
            }
            present |= bit;
        }
        return present;
    }

    private static int bit(CharSequence name) {
        return switch (name.length()) {
            case 2 -> is(name, HttpHeaderNames.TE) ? TE : 0;
            case 3 -> is(name, HttpHeaderNames.VIA) ? VIA : 0;
            case 6 -> is(name, HttpHeaderNames.EXPECT) ? EXPECT : 0;
            case 7 -> is(name, HttpHeaderNames.UPGRADE) ? UPGRADE : 0;
            case 10 -> is(name, HttpHeaderNames.CONNECTION) ? CONNECTION : is(name, KEEP_ALIVE) ? KEEP_ALIVE_BIT : 0;
            case 14 -> is(name, HttpHeaderNames.CONTENT_LENGTH) ? CONTENT_LENGTH : 0;
            case 15 -> is(name, X_FORWARDED_FOR) ? XFF : 0;
            case 16 -> is(name, X_FORWARDED_HOST) ? XFH : is(name, PROXY_CONNECTION) ? PROXY_CONNECTION_BIT : 0;
            case 17 ->
                is(name, HttpHeaderNames.TRANSFER_ENCODING) ? TRANSFER_ENCODING : is(name, X_FORWARDED_PROTO) ? XFP : 0;
            default -> 0;
        };
    }

    /** Field names compare ignoring ASCII case, as {@link HttpHeaders} looks them up. */
    private static boolean is(CharSequence name, AsciiString known) {
        return known.contentEqualsIgnoreCase(name);
    }

    /**
     * Removes the hop-by-hop fields: {@code Connection} and every field it names, {@code Keep-Alive},
     * {@code Proxy-Connection}, {@code TE}, {@code Upgrade} and {@code Transfer-Encoding}. The framing fields
     * ({@code Content-Length}, {@code Transfer-Encoding}) and {@code Host} are never removed because {@code Connection}
     * names them: the caller sets framing afterwards.
     */
    static void removeHopByHop(HttpHeaders h) {
        removeHopByHop(h, scan(h));
    }

    /** {@link #removeHopByHop(HttpHeaders)} given what {@link #scan} found in {@code h}. */
    private static void removeHopByHop(HttpHeaders h, int present) {
        if ((present & CONNECTION) != 0) {
            if ((present & CONNECTIONS) == 0
                    && HttpHeaderValues.KEEP_ALIVE.contentEqualsIgnoreCase(h.get(HttpHeaderNames.CONNECTION))) {
                // What nearly every keep-alive peer sends: it names only Keep-Alive, which goes below anyway.
                h.remove(HttpHeaderNames.CONNECTION);
            } else {
                removeNamedByConnection(h);
            }
        }
        if ((present & KEEP_ALIVE_BIT) != 0) {
            h.remove(KEEP_ALIVE);
        }
        if ((present & PROXY_CONNECTION_BIT) != 0) {
            h.remove(PROXY_CONNECTION);
        }
        if ((present & TE) != 0) {
            h.remove(HttpHeaderNames.TE);
        }
        if ((present & UPGRADE) != 0) {
            h.remove(HttpHeaderNames.UPGRADE);
        }
        if ((present & TRANSFER_ENCODING) != 0) {
            h.remove(HttpHeaderNames.TRANSFER_ENCODING);
        }
    }

    /** Whether a request's {@code TE} field lists {@code trailers} (RFC 9110 section 10.1.4). */
    static boolean acceptsTrailers(HttpHeaders h) {
        if (!h.contains(HttpHeaderNames.TE)) {
            return false;
        }
        List<String> te = h.getAll(HttpHeaderNames.TE);
        for (int i = 0; i < te.size(); i++) {
            for (String part : te.get(i).split(",")) {
                int semi = part.indexOf(';');
                String coding = (semi < 0 ? part : part.substring(0, semi)).strip();
                if (coding.equalsIgnoreCase("trailers")) {
                    return true;
                }
            }
        }
        return false;
    }

    private static void removeNamedByConnection(HttpHeaders h) {
        List<String> connection = h.getAll(HttpHeaderNames.CONNECTION);
        for (int i = 0; i < connection.size(); i++) {
            String value = connection.get(i);
            int start = 0;
            while (start <= value.length()) {
                int comma = value.indexOf(',', start);
                int end = comma < 0 ? value.length() : comma;
                String name = value.substring(start, end).strip();
                if (!name.isEmpty() && !isFraming(name)) {
                    h.remove(name);
                }
                start = end + 1;
            }
        }
        h.remove(HttpHeaderNames.CONNECTION);
    }

    private static boolean isFraming(String name) {
        return HttpHeaderNames.CONTENT_LENGTH.contentEqualsIgnoreCase(name)
                || HttpHeaderNames.TRANSFER_ENCODING.contentEqualsIgnoreCase(name)
                || HttpHeaderNames.HOST.contentEqualsIgnoreCase(name);
    }

    /**
     * Turns the client's request head into the upstream's, in place: hop-by-hop fields out, HTTP/1.1 keep-alive,
     * chunked framing re-declared when the body is chunked, Via and X-Forwarded-* per {@code forwarding}.
     *
     * @param chunked whether the client's body was chunked (decided before hop-by-hop removal)
     * @param clientIp the client's IP address as text
     * @param trustedClient whether the client is one of the trusted proxies (its forwarding headers are kept)
     * @param via11 the Via value for an HTTP/1.1 request ({@code 1.1 <viaName>}), computed once
     */
    static void prepareUpstreamRequest(
            HttpRequest request,
            boolean chunked,
            String clientIp,
            boolean trustedClient,
            boolean secure,
            Forwarding forwarding,
            String via11) {
        HttpHeaders h = request.headers();
        boolean http10 = request.protocolVersion() == HttpVersion.HTTP_1_0;
        // A field named by Connection is removed with it, so a bit may say present for a field gone since: such a
        // field is then set (correct either way), never added twice.
        int present = scan(h);
        removeHopByHop(h, present);
        if ((present & EXPECT) != 0) {
            h.remove(HttpHeaderNames.EXPECT);
        }
        if (chunked) {
            h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        request.setProtocolVersion(HttpVersion.HTTP_1_1);
        if (forwarding.xForwarded()) {
            String ip = clientIp;
            boolean trusted = trustedClient;
            String xff = trusted && (present & XFF) != 0 ? String.join(", ", h.getAll(X_FORWARDED_FOR)) : "";
            put(h, present, XFF, X_FORWARDED_FOR, xff.isEmpty() ? ip : xff + ", " + ip);
            if (!trusted || (present & XFP) == 0 || !h.contains(X_FORWARDED_PROTO)) {
                put(h, present, XFP, X_FORWARDED_PROTO, secure ? "https" : "http");
            }
            if (!trusted || (present & XFH) == 0 || !h.contains(X_FORWARDED_HOST)) {
                String host = h.get(HttpHeaderNames.HOST);
                if (host != null) {
                    put(h, present, XFH, X_FORWARDED_HOST, host);
                } else if ((present & XFH) != 0) {
                    h.remove(X_FORWARDED_HOST);
                }
            }
        }
        if (forwarding.via()) {
            String via = http10 ? "1.0 " + forwarding.viaName() : via11;
            String existing = (present & VIA) != 0 ? h.get(HttpHeaderNames.VIA) : null;
            put(h, present, VIA, HttpHeaderNames.VIA, existing == null ? via : existing + ", " + via);
        }
    }

    /** Sets {@code name}: added when the scan found no such field (no removal pass), else replaced. */
    private static void put(HttpHeaders h, int present, int bit, AsciiString name, String value) {
        if ((present & bit) == 0) {
            h.add(name, value);
        } else {
            h.set(name, value);
        }
    }

    /** How the response body is delimited towards the client. */
    enum Framing {
        /** No body (HEAD, 1xx, 204, 304) or a Content-Length. */
        AS_IS,
        /** Chunked towards an HTTP/1.1 client. */
        CHUNKED,
        /** Delimited by closing the connection (HTTP/1.0 client without a length). */
        CLOSE
    }

    /**
     * Turns the upstream's response head into the client's, in place, and returns how its body is delimited.
     *
     * @param method the request method (HEAD responses have no body)
     * @param clientVersion the client's protocol version
     * @param keepAlive whether the client connection stays open (may still become false for {@link Framing#CLOSE})
     */
    static Framing prepareClientResponse(HttpResponse response, HttpMethod method, HttpVersion clientVersion) {
        HttpHeaders h = response.headers();
        int present = scan(h);
        // Connection never removes Content-Length (a framing field), so the scan's answer holds after the removal.
        boolean hadLength = (present & CONTENT_LENGTH) != 0;
        removeHopByHop(h, present);
        response.setProtocolVersion(HttpVersion.HTTP_1_1);
        int code = response.status().code();
        if (method == HttpMethod.HEAD || code == 204 || code == 304 || code < 200) {
            return Framing.AS_IS;
        }
        if (hadLength) {
            return Framing.AS_IS;
        }
        if (clientVersion == HttpVersion.HTTP_1_0) {
            return Framing.CLOSE;
        }
        h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        return Framing.CHUNKED;
    }

    /** Sets {@code Connection} for the client: {@code close}, or {@code keep-alive} for an HTTP/1.0 client. */
    static void setClientConnection(HttpResponse response, boolean keepAlive, HttpVersion clientVersion) {
        if (!keepAlive) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (clientVersion == HttpVersion.HTTP_1_0) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
    }

    /** Whether the client may reuse the connection after this request, by its own headers. */
    static boolean clientWantsKeepAlive(HttpRequest request) {
        return HttpUtil.isKeepAlive(request);
    }
}
