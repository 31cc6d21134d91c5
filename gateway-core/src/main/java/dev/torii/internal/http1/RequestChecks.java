package dev.torii.internal.http1;

import dev.torii.PathNormalization;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The request checks of RFC 9112 that Netty's decoder leaves to the application. A request that fails one is answered
 * 400 and its connection closed; it never reaches an upstream, so no two parsers can disagree about its framing
 * (request smuggling).
 */
public final class RequestChecks {
    private RequestChecks() {}

    /** What is wrong with {@code request}, or {@code null} when it may be forwarded. */
    public static String problem(HttpRequest request) {
        String method = request.method().name();
        if (!isToken(method)) {
            return "method '" + method + "' is not a token";
        }
        if (request.method() == HttpMethod.CONNECT) {
            return "CONNECT is not supported";
        }
        String uri = request.uri();
        String uriProblem = uriProblem(request.method(), uri);
        if (uriProblem != null) {
            return uriProblem;
        }
        // One pass over the fields instead of a lookup (and a list) per name: every request goes through here.
        CharSequence te = null;
        CharSequence cl = null;
        CharSequence host = null;
        int teCount = 0;
        int clCount = 0;
        int hostCount = 0;
        boolean hixie = false;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it =
                        request.headers().iteratorCharSequence();
                it.hasNext(); ) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            CharSequence name = e.getKey();
            switch (name.length()) {
                case 4 -> {
                    if (HttpHeaderNames.HOST.contentEqualsIgnoreCase(name) && hostCount++ == 0) {
                        host = e.getValue();
                    }
                }
                case 14 -> {
                    if (HttpHeaderNames.CONTENT_LENGTH.contentEqualsIgnoreCase(name) && clCount++ == 0) {
                        cl = e.getValue();
                    }
                }
                case 17 -> {
                    if (HttpHeaderNames.TRANSFER_ENCODING.contentEqualsIgnoreCase(name) && teCount++ == 0) {
                        te = e.getValue();
                    }
                }
                case 18 -> {
                    if (HttpHeaderNames.SEC_WEBSOCKET_KEY1.contentEqualsIgnoreCase(name)
                            || HttpHeaderNames.SEC_WEBSOCKET_KEY2.contentEqualsIgnoreCase(name)) {
                        hixie = true;
                    }
                }
                default -> {}
            }
        }
        if (teCount > 0) {
            if (clCount > 0) {
                return "both Transfer-Encoding and Content-Length";
            }
            if (request.protocolVersion() == HttpVersion.HTTP_1_0) {
                return "Transfer-Encoding in an HTTP/1.0 request";
            }
            if (teCount != 1 || !te.toString().strip().equalsIgnoreCase("chunked")) {
                return "Transfer-Encoding '"
                        + String.join(", ", request.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING))
                        + "' (expected: chunked)";
            }
        }
        if (clCount > 1) {
            return "more than one Content-Length";
        }
        if (clCount == 1 && !isDigits(cl.toString())) {
            return "Content-Length '" + cl + "' (expected: digits)";
        }
        if (hixie) {
            // The hixie-76 handshake (obsolete since RFC 6455) makes Netty read 8 body bytes that no header
            // declares: another parser would take them for the next request.
            return "obsolete hixie-76 WebSocket handshake (Sec-WebSocket-Key1/Key2)";
        }
        if (hostCount > 1) {
            return "more than one Host";
        }
        if (hostCount == 0 && request.protocolVersion() != HttpVersion.HTTP_1_0) {
            return "no Host header in an HTTP/1.1 request";
        }
        if (hostCount == 1 && !isValidHost(host.toString())) {
            return "Host '" + host + "' is not a valid authority";
        }
        return null;
    }

    /** Whether the request says HTTP/1.0 or HTTP/1.1 (anything else is answered 505). */
    public static boolean supportedVersion(HttpRequest request) {
        HttpVersion v = request.protocolVersion();
        return v.protocolName().equals("HTTP")
                && v.majorVersion() == 1
                && (v.minorVersion() == 0 || v.minorVersion() == 1);
    }

    /** Removes every header field whose name contains {@code _}. */
    public static void dropUnderscoredHeaders(HttpHeaders headers) {
        // Over the entries, not headers.names(): that builds a set of every name for each request.
        List<String> names = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (AsciiString.indexOf(name, '_', 0) >= 0) {
                if (names == null) {
                    names = new java.util.ArrayList<>();
                }
                names.add(name.toString());
            }
        }
        if (names != null) {
            names.forEach(headers::remove);
        }
    }

    /**
     * Fields that must not come in trailers (RFC 9110 section 6.5.1: framing, routing, authentication, connection
     * control): an upstream that merges trailers into the head would otherwise take a {@code Host} from the body.
     */
    private static final List<String> FORBIDDEN_TRAILERS = List.of(
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
            "expect",
            "authorization",
            "proxy-authorization",
            "cookie");

    /** Removes from request trailers the fields RFC 9110 forbids there, and names with {@code _} unless allowed. */
    public static void dropForbiddenTrailers(HttpHeaders trailers, boolean underscoresAllowed) {
        FORBIDDEN_TRAILERS.forEach(trailers::remove);
        if (!underscoresAllowed) {
            dropUnderscoredHeaders(trailers);
        }
    }

    private static String uriProblem(HttpMethod method, String uri) {
        if (uri.isEmpty()) {
            return "empty request target";
        }
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c <= 0x20 || c >= 0x7f) {
                return "request target contains byte 0x" + Integer.toHexString(c);
            }
            if (c == '#') {
                return "request target contains a fragment (#)";
            }
        }
        char first = uri.charAt(0);
        if (first == '/') {
            return null;
        }
        if (uri.equals("*")) {
            return method == HttpMethod.OPTIONS ? null : "request target '*' is only for OPTIONS";
        }
        if (startsWithIgnoreCase(uri, "http://") || startsWithIgnoreCase(uri, "https://")) {
            int start = uri.indexOf("://") + 3;
            int end = start;
            while (end < uri.length() && "/?".indexOf(uri.charAt(end)) < 0) {
                end++;
            }
            if (uri.lastIndexOf('@', end - 1) >= start) {
                return "userinfo in the request target's authority";
            }
            return null;
        }
        return "request target '" + uri + "' (expected: /path or http://authority/path)";
    }

    private static boolean startsWithIgnoreCase(String s, String prefix) {
        return s.regionMatches(true, 0, prefix, 0, prefix.length());
    }

    private static boolean isDigits(String s) {
        String v = s.strip();
        if (v.isEmpty() || v.length() > 18) {
            return false;
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** RFC 9110 token: one or more tchar. */
    static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean tchar = (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!tchar) {
                return false;
            }
        }
        return true;
    }

    /** uri-host [ ":" port ] with no user info, path or white space. */
    private static boolean isValidHost(String host) {
        if (host.isEmpty()) {
            return true; // RFC 9112 3.2: an empty Host is allowed when the target has no authority
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || "-._~!$&'()*+,;=:[]%".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** The host (lower case, without port and brackets) of an absolute-form target or the Host header; or null. */
    public static String host(HttpRequest request) {
        String uri = request.uri();
        String authority;
        if (uri.charAt(0) != '/' && !uri.equals("*")) {
            int start = uri.indexOf("://") + 3;
            int end = uri.indexOf('/', start);
            authority = end < 0 ? uri.substring(start) : uri.substring(start, end);
            int at = authority.lastIndexOf('@');
            if (at >= 0) {
                authority = authority.substring(at + 1);
            }
        } else {
            authority = request.headers().get(HttpHeaderNames.HOST);
        }
        if (authority == null || authority.isEmpty()) {
            return null;
        }
        String host;
        if (authority.charAt(0) == '[') {
            int close = authority.indexOf(']');
            host = close < 0 ? authority : authority.substring(1, close);
        } else {
            int colon = authority.indexOf(':');
            host = colon < 0 ? authority : authority.substring(0, colon);
        }
        return host.toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Normalises the path of {@code request}'s target in place (origin-form or absolute-form; the authority and the
     * query are kept as received). Returns why the target is refused, or {@code null}.
     */
    public static String normalizePath(HttpRequest request, PathNormalization settings) {
        if (!settings.enabled()) {
            return null;
        }
        String uri = request.uri();
        int pathStart = 0;
        if (uri.charAt(0) != '/') {
            if (uri.equals("*")) {
                return null;
            }
            int authority = uri.indexOf("://") + 3;
            pathStart = uri.indexOf('/', authority);
            int q = uri.indexOf('?', authority);
            if (pathStart < 0 || (q >= 0 && q < pathStart)) {
                return null; // no path: toOriginForm makes it "/"
            }
        }
        String target = pathStart == 0 ? uri : uri.substring(pathStart);
        PathNormalizer.Result result = PathNormalizer.normalize(target, settings);
        if (result.problem() != null) {
            return result.problem();
        }
        if (result.target() == target) {
            return null; // already normal: the request is left as it is
        }
        String normalized = uri.substring(0, pathStart) + result.target();
        if (!normalized.equals(uri)) {
            request.setUri(normalized);
        }
        return null;
    }

    /**
     * Rewrites an absolute-form target ({@code http://a/b?c}) to origin-form ({@code /b?c}) and its authority into
     * Host, in place (RFC 9112 section 3.2.2: the target's authority wins over Host).
     */
    public static void toOriginForm(HttpRequest request) {
        String uri = request.uri();
        if (uri.charAt(0) == '/' || uri.equals("*")) {
            return;
        }
        int start = uri.indexOf("://") + 3;
        int slash = uri.indexOf('/', start);
        int q = uri.indexOf('?', start);
        int authorityEnd = slash < 0 ? (q < 0 ? uri.length() : q) : (q >= 0 && q < slash ? q : slash);
        String authority = uri.substring(start, authorityEnd);
        int at = authority.lastIndexOf('@');
        request.headers().set(HttpHeaderNames.HOST, at < 0 ? authority : authority.substring(at + 1));
        String rest;
        if (slash < 0 || (q >= 0 && q < slash)) {
            rest = q < 0 ? "/" : "/" + uri.substring(q);
        } else {
            rest = uri.substring(slash);
        }
        request.setUri(rest);
    }
}
