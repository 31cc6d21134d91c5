package dev.torii.internal.http2;

import dev.torii.internal.ProxyHandler;
import dev.torii.internal.tunnel.Tunnel;
import dev.torii.internal.tunnel.WebSocketUpgrade;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.MessageToMessageCodec;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.PromiseNotifier;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one HTTP/2 request stream into the {@link HttpObject}s that {@link ProxyHandler} proxies, and the response
 * back into frames, checking the request the way RFC 9113 section 8 requires on the way in. Netty's codec checks
 * some of these rules; this codec checks all of them itself, so the proxy never depends on which ones a Netty
 * version happens to enforce.
 *
 * <p>A malformed request (missing, unknown, duplicate or misplaced pseudo-headers, uppercase or invalid field
 * names, invalid field values, connection-specific fields, {@code TE} other than {@code trailers}, a {@code Host}
 * that differs from {@code :authority}, a {@code content-length} the DATA frames do not match, trailers with
 * pseudo-headers or without END_STREAM) is a stream error: the stream is reset with {@code PROTOCOL_ERROR} and the
 * request never reaches an upstream (or, when it was already forwarded, its upstream connection is closed before
 * the request could complete).
 *
 * <p>Requests become HTTP/1.1 messages: {@code :authority} becomes {@code Host}, cookie crumbs are joined with
 * {@code "; "} (RFC 9113 section 8.2.3), a body without {@code content-length} is declared chunked, and
 * {@code :scheme} and {@code :protocol} are kept aside ({@link #scheme()}, {@link #protocol()}). An extended CONNECT
 * for {@code websocket} (RFC 8441) becomes the HTTP/1.1 upgrade request an upstream understands ({@code GET} with
 * {@code Upgrade}, {@code Connection} and a generated {@code Sec-WebSocket-Key}), and its {@code 101} a {@code 200}
 * that leaves the stream open for the {@link Tunnel}. Responses become
 * HEADERS and DATA frames with connection-specific fields removed ({@link H2ResponseHeaders}); trailers become a final HEADERS frame; a response
 * to HEAD never carries DATA.
 */
public final class H2StreamCodec extends MessageToMessageCodec<Http2StreamFrame, HttpObject> {
    private static final Logger log = LoggerFactory.getLogger(H2StreamCodec.class);

    private static final AsciiString TRAILERS = AsciiString.cached("trailers");
    private static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
    private static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
    private static final AsciiString HTTP = AsciiString.cached("http");
    private static final AsciiString HTTPS = AsciiString.cached("https");
    private static final HttpHeadersFactory REQUEST_HEADERS =
            DefaultHttpHeadersFactory.headersFactory().withValidation(false);
    private static final HttpHeadersFactory TRAILERS_FACTORY =
            DefaultHttpHeadersFactory.trailersFactory().withValidation(false);
    private final Runnable onMalformed;
    /** The {@code :scheme} a request on this connection must carry: {@code https} over TLS, {@code http} in clear. */
    private final AsciiString connectionScheme;

    private boolean requestSeen;
    private boolean requestEnded;
    private boolean failed;
    private boolean headRequest;
    private long declaredLength = -1;
    private long receivedLength;
    private String scheme;
    private String protocol;
    /**
     * A response head not written yet: if the response's end follows in the same flush with no content and no
     * trailers, the head goes out as one HEADERS frame ending the stream (a gRPC "trailers-only" response must).
     */
    private Http2Headers pendingHead;

    private ChannelPromise pendingHeadPromise;
    /** An RFC 8441 extended CONNECT for {@code websocket}, proxied as an HTTP/1.1 upgrade. */
    private boolean webSocket;

    /**
     * @param onMalformed told of each malformed request (counted by the engine)
     * @param secure whether the connection is TLS (requests must say {@code :scheme https}) or clear text ({@code
     *     http})
     */
    H2StreamCodec(Runnable onMalformed, boolean secure) {
        this.onMalformed = onMalformed;
        this.connectionScheme = secure ? HTTPS : HTTP;
    }

    /** The request's {@code :scheme}, once its head is decoded. */
    String scheme() {
        return scheme;
    }

    /** The request's {@code :protocol} (RFC 8441 extended CONNECT), or {@code null}. */
    String protocol() {
        return protocol;
    }

    // ------------------------------------------------------------------ inbound: frames to a request

    @Override
    protected void decode(ChannelHandlerContext ctx, Http2StreamFrame frame, List<Object> out) {
        if (failed) {
            return;
        }
        if (frame instanceof Http2HeadersFrame headers) {
            if (!requestSeen) {
                decodeHead(ctx, headers, out);
            } else {
                decodeTrailers(ctx, headers, out);
            }
        } else if (frame instanceof Http2DataFrame data) {
            decodeData(ctx, data, out);
        }
        // Other stream frames (WINDOW_UPDATE, RST as user events) need nothing here.
    }

    private void decodeHead(ChannelHandlerContext ctx, Http2HeadersFrame frame, List<Object> out) {
        requestSeen = true;
        Http2Headers h = frame.headers();
        CharSequence method = null;
        CharSequence path = null;
        CharSequence authority = null;
        CharSequence schemeValue = null;
        CharSequence protocolValue = null;
        CharSequence host = null;
        StringBuilder cookies = null;
        HttpHeaders headers = REQUEST_HEADERS.newHeaders();
        for (Map.Entry<CharSequence, CharSequence> e : h) {
            CharSequence name = e.getKey();
            CharSequence value = e.getValue();
            if (name.length() > 0 && name.charAt(0) == ':') {
                String pseudo = name.toString();
                boolean dup;
                switch (pseudo) {
                    case ":method" -> {
                        dup = method != null;
                        method = value;
                    }
                    case ":path" -> {
                        dup = path != null;
                        path = value;
                    }
                    case ":authority" -> {
                        dup = authority != null;
                        authority = value;
                    }
                    case ":scheme" -> {
                        dup = schemeValue != null;
                        schemeValue = value;
                    }
                    case ":protocol" -> {
                        dup = protocolValue != null;
                        protocolValue = value;
                    }
                    default -> {
                        malformed(ctx, "unknown pseudo-header " + pseudo);
                        return;
                    }
                }
                if (dup) {
                    malformed(ctx, "duplicate pseudo-header " + pseudo);
                    return;
                }
                if (!validValue(value)) {
                    malformed(ctx, "invalid value of " + pseudo);
                    return;
                }
                continue;
            }
            String problem = fieldProblem(name, value);
            if (problem != null) {
                malformed(ctx, problem);
                return;
            }
            if (HttpHeaderNames.COOKIE.contentEquals(name)) {
                // RFC 9113 8.2.3: crumbs are joined with "; " before an HTTP/1.1 hop.
                cookies = cookies == null
                        ? new StringBuilder(value)
                        : cookies.append("; ").append(value);
                continue;
            }
            if (HttpHeaderNames.HOST.contentEquals(name)) {
                if (host != null) {
                    malformed(ctx, "duplicate host");
                    return;
                }
                host = value;
                continue;
            }
            if (HttpHeaderNames.CONTENT_LENGTH.contentEquals(name)) {
                long length = parseLength(value);
                if (length < 0 || declaredLength >= 0 && declaredLength != length) {
                    malformed(ctx, "invalid content-length " + value);
                    return;
                }
                declaredLength = length;
            }
            headers.add(name, value);
        }
        if (method == null) {
            malformed(ctx, "missing :method");
            return;
        }
        boolean connect = HttpMethod.CONNECT.name().contentEquals(method);
        if (protocolValue != null && !connect) {
            malformed(ctx, ":protocol on a " + method + " request");
            return;
        }
        if (connect && protocolValue == null) {
            // Plain CONNECT (RFC 9113 8.5): :authority only.
            if (authority == null || schemeValue != null || path != null) {
                malformed(ctx, "CONNECT needs :authority and no :scheme or :path");
                return;
            }
        } else {
            if (schemeValue == null || path == null || path.length() == 0) {
                malformed(ctx, "missing :scheme or :path");
                return;
            }
            if (!connectionScheme.contentEqualsIgnoreCase(schemeValue)) {
                // RFC 9113 8.3.1 leaves a mismatch to the server; a proxy that forwards it would let the client tell
                // the upstream (X-Forwarded-Proto, redirects, cookies' Secure) it came over TLS when it did not.
                malformed(ctx, ":scheme " + schemeValue + " on a " + connectionScheme + " connection");
                return;
            }
            char first = path.charAt(0);
            if (first != '/'
                    && !(first == '*'
                            && path.length() == 1
                            && HttpMethod.OPTIONS.name().contentEquals(method))) {
                malformed(ctx, "invalid :path " + path);
                return;
            }
        }
        if (authority != null) {
            if (host != null && !AsciiString.contentEqualsIgnoreCase(host, authority)) {
                malformed(ctx, "host " + host + " differs from :authority " + authority);
                return;
            }
            host = authority;
        }
        if (host != null) {
            headers.set(HttpHeaderNames.HOST, host);
        }
        if (cookies != null) {
            headers.set(HttpHeaderNames.COOKIE, cookies.toString());
        }
        HttpMethod httpMethod;
        try {
            httpMethod = HttpMethod.valueOf(method.toString());
        } catch (IllegalArgumentException e) {
            malformed(ctx, "invalid :method " + method);
            return;
        }
        scheme = schemeValue == null ? null : schemeValue.toString();
        protocol = protocolValue == null ? null : protocolValue.toString();
        headRequest = httpMethod == HttpMethod.HEAD;
        String target = path != null ? path.toString() : authority.toString();
        if (connect && HttpHeaderValues.WEBSOCKET.contentEqualsIgnoreCase(protocol)) {
            if (frame.isEndStream()) {
                malformed(ctx, "extended CONNECT with END_STREAM (the stream carries the WebSocket connection)");
                return;
            }
            // RFC 8441 section 5: the HTTP/1.1 upgrade an upstream understands, with a key of our own; the stream's
            // DATA frames are the connection's bytes, relayed by the Tunnel once the upstream switched protocols.
            webSocket = true;
            requestEnded = true;
            headers.remove(HttpHeaderNames.CONTENT_LENGTH);
            headers.set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
            headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
            headers.set(HttpHeaderNames.SEC_WEBSOCKET_KEY, WebSocketUpgrade.newKey());
            out.add(new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target, headers));
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
            return;
        }
        HttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, httpMethod, target, headers);
        if (frame.isEndStream()) {
            if (declaredLength > 0) {
                malformed(ctx, "content-length " + declaredLength + " but no DATA");
                return;
            }
            requestEnded = true;
            out.add(request);
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
        } else {
            if (declaredLength < 0) {
                headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            }
            out.add(request);
        }
    }

    private void decodeData(ChannelHandlerContext ctx, Http2DataFrame data, List<Object> out) {
        if (!requestSeen || requestEnded) {
            malformed(ctx, "DATA outside a request body");
            return;
        }
        ByteBuf content = data.content();
        receivedLength += content.readableBytes();
        if (declaredLength >= 0
                && (receivedLength > declaredLength || data.isEndStream() && receivedLength != declaredLength)) {
            malformed(ctx, "DATA length " + receivedLength + " does not match content-length " + declaredLength);
            return;
        }
        if (data.isEndStream()) {
            requestEnded = true;
            out.add(new DefaultLastHttpContent(content.retain(), TRAILERS_FACTORY));
        } else {
            out.add(new DefaultHttpContent(content.retain()));
        }
    }

    private void decodeTrailers(ChannelHandlerContext ctx, Http2HeadersFrame frame, List<Object> out) {
        if (requestEnded || !frame.isEndStream()) {
            malformed(ctx, "HEADERS in the middle of a request body (trailers must end the stream)");
            return;
        }
        if (declaredLength >= 0 && receivedLength != declaredLength) {
            malformed(ctx, "DATA length " + receivedLength + " does not match content-length " + declaredLength);
            return;
        }
        LastHttpContent last = new DefaultLastHttpContent(io.netty.buffer.Unpooled.EMPTY_BUFFER, TRAILERS_FACTORY);
        for (Map.Entry<CharSequence, CharSequence> e : frame.headers()) {
            CharSequence name = e.getKey();
            if (name.length() > 0 && name.charAt(0) == ':') {
                last.release();
                malformed(ctx, "pseudo-header " + name + " in trailers");
                return;
            }
            String problem = fieldProblem(name, e.getValue());
            if (problem != null) {
                last.release();
                malformed(ctx, problem);
                return;
            }
            last.trailingHeaders().add(name, e.getValue());
        }
        requestEnded = true;
        out.add(last);
    }

    /** RFC 9113 8.2 and 8.2.2: what is wrong with a regular field, or {@code null}. */
    private static String fieldProblem(CharSequence name, CharSequence value) {
        if (name.length() == 0) {
            return "empty field name";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                return "uppercase field name " + name;
            }
            if (!isTokenChar(c)) {
                return "invalid field name " + name;
            }
        }
        if (!validValue(value)) {
            return "invalid value of " + name;
        }
        if (HttpHeaderNames.CONNECTION.contentEquals(name)
                || KEEP_ALIVE.contentEquals(name)
                || PROXY_CONNECTION.contentEquals(name)
                || HttpHeaderNames.TRANSFER_ENCODING.contentEquals(name)
                || HttpHeaderNames.UPGRADE.contentEquals(name)) {
            return "connection-specific field " + name;
        }
        if (HttpHeaderNames.TE.contentEquals(name) && !TRAILERS.contentEqualsIgnoreCase(value)) {
            return "te: " + value + " (only \"trailers\" is allowed)";
        }
        return null;
    }

    private static boolean isTokenChar(char c) {
        if (c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
            return true;
        }
        return c < 127 && c > 32 && "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
    }

    /** RFC 9113 8.2.1: no NUL, CR or LF anywhere, no whitespace at either end. */
    private static boolean validValue(CharSequence value) {
        int n = value.length();
        if (n > 0) {
            char first = value.charAt(0);
            char last = value.charAt(n - 1);
            if (first == ' ' || first == '\t' || last == ' ' || last == '\t') {
                return false;
            }
        }
        for (int i = 0; i < n; i++) {
            char c = value.charAt(i);
            if (c == 0 || c == '\r' || c == '\n') {
                return false;
            }
        }
        return true;
    }

    private static long parseLength(CharSequence value) {
        if (value.length() == 0 || value.length() > 18) {
            return -1;
        }
        long n = 0;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    private void malformed(ChannelHandlerContext ctx, String why) {
        failed = true;
        log.debug("malformed HTTP/2 request on {}: {}", ctx.channel(), why);
        onMalformed.run();
        reset(ctx, Http2Error.PROTOCOL_ERROR);
    }

    private static void reset(ChannelHandlerContext ctx, Http2Error error) {
        ctx.writeAndFlush(new DefaultHttp2ResetFrame(error));
        ctx.close();
    }

    /**
     * A stream error that Netty's decoder found (a content-length that the DATA does not match, invalid HPACK fields):
     * Netty's multiplexer would close the stream with CANCEL; the RFC wants the error's own code, so send it first.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Http2Exception h2 = Http2CodecUtil.getEmbeddedHttp2Exception(cause);
        if (h2 != null && !failed) {
            failed = true;
            log.debug("HTTP/2 stream error on {}: {}", ctx.channel(), h2.getMessage());
            onMalformed.run();
            reset(ctx, h2.error());
            return;
        }
        ctx.fireExceptionCaught(cause);
    }

    // ------------------------------------------------------------------ outbound: a response to frames

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (pendingHead != null) {
            if (msg instanceof LastHttpContent last
                    && (headRequest || !last.content().isReadable())
                    && last.trailingHeaders().isEmpty()) {
                // The response ends with nothing after its head: one HEADERS frame with END_STREAM, whose write
                // completes both the head's promise and the end's.
                last.release();
                if (promise.isVoid()) {
                    writePendingHead(ctx, true);
                } else {
                    ChannelPromise headPromise = pendingHeadPromise;
                    Http2Headers head = pendingHead;
                    pendingHead = null;
                    pendingHeadPromise = null;
                    ctx.write(new DefaultHttp2HeadersFrame(head, true), promise);
                    if (!headPromise.isVoid()) {
                        promise.addListener(new PromiseNotifier<>(headPromise));
                    }
                }
                return;
            }
            writePendingHead(ctx, false);
        }
        if (msg instanceof HttpResponse response
                && !(msg instanceof FullHttpResponse)
                && !(msg instanceof HttpContent)
                && response.status().code() >= 200) {
            pendingHead = H2ResponseHeaders.of(response);
            pendingHeadPromise = promise;
            return;
        }
        super.write(ctx, msg, promise);
    }

    /**
     * A stream closed after its response ended but before its request did (a hook or upstream that answered without
     * reading the whole body): RST_STREAM NO_ERROR asks the client to stop sending (RFC 9113 section 8.1), where
     * Netty's stream channel would send CANCEL.
     */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        if (ctx.channel() instanceof Http2StreamChannel stream
                && stream.stream().state() == Http2Stream.State.HALF_CLOSED_LOCAL) {
            ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
        }
        super.close(ctx, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (pendingHead != null) {
            // The head is flushed on its own (a streamed response whose content comes later).
            writePendingHead(ctx, false);
        }
        ctx.flush();
    }

    private void writePendingHead(ChannelHandlerContext ctx, boolean endStream) {
        Http2Headers head = pendingHead;
        ChannelPromise p = pendingHeadPromise;
        pendingHead = null;
        pendingHeadPromise = null;
        ctx.write(new DefaultHttp2HeadersFrame(head, endStream), p);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) throws Exception {
        if (pendingHeadPromise != null) {
            pendingHeadPromise.tryFailure(new java.nio.channels.ClosedChannelException());
            pendingHead = null;
            pendingHeadPromise = null;
        }
        super.handlerRemoved(ctx);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, HttpObject msg, List<Object> out) {
        if (msg instanceof HttpResponse response) {
            int code = response.status().code();
            boolean informational = code < 200;
            Http2Headers headers = H2ResponseHeaders.of(response);
            if (webSocket && code == HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                // RFC 8441 section 5: the upstream's 101 is a 200 on the stream, which stays open for the tunnel;
                // Upgrade and Connection are gone already, and Sec-WebSocket-Accept is not used over HTTP/2.
                headers.status(HttpResponseStatus.OK.codeAsText());
                headers.remove(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT);
                out.add(new DefaultHttp2HeadersFrame(headers, false));
                return;
            }
            if (informational) {
                out.add(new DefaultHttp2HeadersFrame(headers, false));
                return;
            }
            boolean bodyless = headRequest
                    || code == HttpResponseStatus.NO_CONTENT.code()
                    || code == HttpResponseStatus.NOT_MODIFIED.code();
            if (msg instanceof FullHttpResponse full) {
                ByteBuf content = full.content();
                if (bodyless || !content.isReadable()) {
                    out.add(new DefaultHttp2HeadersFrame(headers, true));
                } else {
                    out.add(new DefaultHttp2HeadersFrame(headers, false));
                    out.add(new DefaultHttp2DataFrame(content.retain(), true));
                }
                return;
            }
            out.add(new DefaultHttp2HeadersFrame(headers, false));
            if (msg instanceof HttpContent content) {
                encodeContent(content, out);
            }
        } else if (msg instanceof HttpContent content) {
            encodeContent(content, out);
        } else {
            ReferenceCountUtil.retain(msg);
            out.add(msg);
        }
    }

    private void encodeContent(HttpContent content, List<Object> out) {
        ByteBuf data = content.content();
        if (!(content instanceof LastHttpContent last)) {
            if (data.isReadable() && !headRequest) {
                out.add(new DefaultHttp2DataFrame(data.retain(), false));
            }
            return;
        }
        HttpHeaders trailers = last.trailingHeaders();
        if (trailers.isEmpty()) {
            out.add(new DefaultHttp2DataFrame(
                    headRequest ? io.netty.buffer.Unpooled.EMPTY_BUFFER : data.retain(), true));
            return;
        }
        if (data.isReadable() && !headRequest) {
            out.add(new DefaultHttp2DataFrame(data.retain(), false));
        }
        Http2Headers h2 = new DefaultHttp2Headers(false);
        HttpConversionUtil.toHttp2Headers(trailers, h2);
        out.add(new DefaultHttp2HeadersFrame(h2, true));
    }
}
