package dev.torii.internal.tunnel;

import dev.torii.internal.http2.H2StreamCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The RFC 6455 opening handshake as a proxy sees it: which requests ask for a WebSocket upgrade, the hop-by-hop fields
 * that such a request and its {@code 101} keep (everything else about them is forwarded untouched), and the check of
 * {@code Sec-WebSocket-Accept} against the key that was sent. An RFC 8441 extended CONNECT arrives here already turned
 * into such a request by {@link H2StreamCodec}, with a key the gateway generated ({@link #newKey()}).
 */
public final class WebSocketUpgrade {
    /** RFC 6455 section 1.3. */
    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private WebSocketUpgrade() {}

    /**
     * Whether {@code request} asks to switch to WebSocket: an HTTP/1.1 {@code GET} without a body whose {@code Upgrade}
     * names {@code websocket} and whose {@code Connection} names {@code upgrade}. Any other upgrade is an ordinary
     * request whose {@code Upgrade} is removed as hop-by-hop.
     */
    public static boolean isRequest(HttpRequest request) {
        HttpHeaders h = request.headers();
        return h.contains(HttpHeaderNames.UPGRADE)
                && HttpMethod.GET.equals(request.method())
                && request.protocolVersion() == HttpVersion.HTTP_1_1
                && hasToken(h.getAll(HttpHeaderNames.UPGRADE), HttpHeaderValues.WEBSOCKET.toString())
                && hasToken(h.getAll(HttpHeaderNames.CONNECTION), HttpHeaderValues.UPGRADE.toString())
                && !h.contains(HttpHeaderNames.TRANSFER_ENCODING)
                && HttpUtil.getContentLength(request, 0L) == 0;
    }

    /** Puts back the two hop-by-hop fields that an upgrade needs, after the hop-by-hop fields were removed. */
    public static void keepUpgradeFields(HttpHeaders h) {
        h.set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    }

    /**
     * Whether {@code response} completes the upgrade that {@code sent} asked for: {@code 101}, {@code Upgrade} naming
     * {@code websocket} and {@code Sec-WebSocket-Accept} matching the key that was sent (RFC 6455 section 4.1).
     */
    public static boolean accepted(HttpResponse response, HttpRequest sent) {
        if (response.status().code() != HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
            return false;
        }
        HttpHeaders h = response.headers();
        String key = sent.headers().get(HttpHeaderNames.SEC_WEBSOCKET_KEY);
        String accept = h.get(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT);
        return key != null
                && accept != null
                && hasToken(h.getAll(HttpHeaderNames.UPGRADE), HttpHeaderValues.WEBSOCKET.toString())
                && acceptFor(key).equals(accept.strip());
    }

    /** {@code Sec-WebSocket-Accept} for {@code key}: base64(SHA-1(key + GUID)). */
    static String acceptFor(String key) {
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            byte[] digest = sha1.digest((key.strip() + GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-1", e);
        }
    }

    /** A fresh {@code Sec-WebSocket-Key}: 16 random bytes, base64 (RFC 6455 section 4.1). */
    public static String newKey() {
        byte[] nonce = new byte[16];
        ThreadLocalRandom.current().nextBytes(nonce);
        return Base64.getEncoder().encodeToString(nonce);
    }

    /** Whether one of the comma-separated {@code values} is {@code token}, ignoring case. */
    private static boolean hasToken(List<String> values, String token) {
        for (int i = 0; i < values.size(); i++) {
            String value = values.get(i);
            int start = 0;
            while (start <= value.length()) {
                int comma = value.indexOf(',', start);
                int end = comma < 0 ? value.length() : comma;
                if (value.substring(start, end).strip().equalsIgnoreCase(token)) {
                    return true;
                }
                start = end + 1;
            }
        }
        return false;
    }
}
