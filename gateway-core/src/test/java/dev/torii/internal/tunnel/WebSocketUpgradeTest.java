package dev.torii.internal.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class WebSocketUpgradeTest {
    private static HttpRequest request(HttpMethod method, HttpVersion version, String... fields) {
        HttpRequest r = new DefaultHttpRequest(version, method, "/chat");
        for (int i = 0; i < fields.length; i += 2) {
            r.headers().add(fields[i], fields[i + 1]);
        }
        return r;
    }

    @Test
    void theAcceptValueIsTheOneOfRfc6455() {
        // RFC 6455 section 1.3.
        assertThat(WebSocketUpgrade.acceptFor("dGhlIHNhbXBsZSBub25jZQ==")).isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    @Test
    void anUpgradeRequestIsABodylessHttp11GetNamingWebSocketAndUpgrade() {
        assertThat(WebSocketUpgrade.isRequest(request(
                        HttpMethod.GET,
                        HttpVersion.HTTP_1_1,
                        "Upgrade",
                        "WebSocket",
                        "Connection",
                        "keep-alive, Upgrade")))
                .isTrue();
        assertThat(WebSocketUpgrade.isRequest(request(
                        HttpMethod.GET, HttpVersion.HTTP_1_1, "Upgrade", "h2c, websocket", "Connection", "upgrade")))
                .isTrue();
        assertThat(WebSocketUpgrade.isRequest(request(
                        HttpMethod.POST, HttpVersion.HTTP_1_1, "Upgrade", "websocket", "Connection", "Upgrade")))
                .as("not a GET")
                .isFalse();
        assertThat(WebSocketUpgrade.isRequest(
                        request(HttpMethod.GET, HttpVersion.HTTP_1_0, "Upgrade", "websocket", "Connection", "Upgrade")))
                .as("HTTP/1.0")
                .isFalse();
        assertThat(WebSocketUpgrade.isRequest(request(HttpMethod.GET, HttpVersion.HTTP_1_1, "Upgrade", "websocket")))
                .as("Connection does not name upgrade")
                .isFalse();
        assertThat(WebSocketUpgrade.isRequest(
                        request(HttpMethod.GET, HttpVersion.HTTP_1_1, "Upgrade", "h2c", "Connection", "Upgrade")))
                .as("another protocol")
                .isFalse();
        assertThat(WebSocketUpgrade.isRequest(request(
                        HttpMethod.GET,
                        HttpVersion.HTTP_1_1,
                        "Upgrade",
                        "websocket",
                        "Connection",
                        "Upgrade",
                        "Content-Length",
                        "5")))
                .as("with a body")
                .isFalse();
    }

    @Test
    void a101IsAcceptedOnlyWithTheAcceptOfTheKeySent() {
        HttpRequest sent = request(
                HttpMethod.GET,
                HttpVersion.HTTP_1_1,
                "Upgrade",
                "websocket",
                "Connection",
                "Upgrade",
                "Sec-WebSocket-Key",
                "dGhlIHNhbXBsZSBub25jZQ==");
        HttpResponse ok = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        ok.headers().set("Upgrade", "websocket").set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assertThat(WebSocketUpgrade.accepted(ok, sent)).isTrue();

        HttpResponse wrongAccept =
                new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        wrongAccept.headers().set("Upgrade", "websocket").set("Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assertThat(WebSocketUpgrade.accepted(wrongAccept, sent)).isFalse();

        HttpResponse noUpgrade = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        noUpgrade.headers().set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assertThat(WebSocketUpgrade.accepted(noUpgrade, sent)).isFalse();

        HttpResponse notSwitching = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        notSwitching.headers().set("Upgrade", "websocket").set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assertThat(WebSocketUpgrade.accepted(notSwitching, sent)).isFalse();
    }

    @Test
    void generatedKeysAreSixteenRandomBytes() {
        String a = WebSocketUpgrade.newKey();
        assertThat(Base64.getDecoder().decode(a)).hasSize(16);
        assertThat(WebSocketUpgrade.newKey()).isNotEqualTo(a);
    }
}
