package dev.torii.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.ErrorResponder;
import dev.torii.Forwarding;
import dev.torii.Gateway;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.tcp.TcpListener;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Allow and deny lists in a real gateway over loopback, with clients bound to several loopback addresses (127.0.0.2,
 * 127.0.0.3, ...), over HTTP/1.1 and h2c, and on a TCP listener.
 */
class AccessControlTest {
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final TestUpstream upstream = closeLater(TestUpstream.start(TestUpstream.ECHO_REQUEST_LINE));

    @TempDir
    Path dir;

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }

    private Gateway gateway(AccessControl access, Forwarding forwarding) {
        return closeLater(Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .listener(TcpListener.builder("raw", "127.0.0.1:0", "app").build())
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("admin")
                                .pathPrefix("/admin")
                                .upstream("app")
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .hook(access.hook(ErrorResponder.plainText()))
                .forwarding(forwarding)
                .ioThreads(1)
                .build()
                .start());
    }

    private Gateway gateway(AccessControl access) {
        return gateway(access, Forwarding.defaults());
    }

    /** A request from {@code from} (a loopback address the client socket binds to). */
    private HttpResponse<String> get(Gateway g, String from, HttpClient.Version version, String path, String... headers)
            throws Exception {
        try (HttpClient client = HttpClient.newBuilder()
                .version(version)
                .localAddress(InetAddress.getByName(from))
                .connectTimeout(Duration.ofSeconds(5))
                .build()) {
            var b = HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + g.address("web").getPort() + path))
                    .timeout(Duration.ofSeconds(20));
            if (headers.length > 0) {
                b.headers(headers);
            }
            return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    private int status(Gateway g, String from, String path) throws Exception {
        return get(g, from, HttpClient.Version.HTTP_1_1, path).statusCode();
    }

    @Test
    void aDeniedAddressGets403OverHttp11AndH2cWhileOtherAddressesAreServed() throws Exception {
        var access = closeLater(AccessControl.builder(new AccessPolicy(
                        AccessList.of(List.of(), List.of("127.0.0.2")), Map.of(), Map.of(), Duration.ofSeconds(1)))
                .build()
                .start());
        Gateway g = gateway(access);
        for (var version : List.of(HttpClient.Version.HTTP_1_1, HttpClient.Version.HTTP_2)) {
            HttpResponse<String> denied = get(g, "127.0.0.2", version, "/x");
            assertThat(denied.statusCode()).as(version.toString()).isEqualTo(403);
            assertThat(denied.body()).isEqualTo("403 ACCESS_DENIED\n");
            HttpResponse<String> served = get(g, "127.0.0.3", version, "/x");
            assertThat(served.statusCode()).as(version.toString()).isEqualTo(200);
            assertThat(served.version()).isEqualTo(version);
        }
        assertThat(upstream.requests()).hasSize(2);
        assertThat(access.stats().deniedRequests()).isEqualTo(2);
    }

    @Test
    void aListenerDenyListAppliesToHttpRequestsOverHttp11AndH2c() throws Exception {
        var access = closeLater(AccessControl.builder(new AccessPolicy(
                        AccessList.open(),
                        Map.of("web", AccessList.of(List.of(), List.of("127.0.0.2"))),
                        Map.of(),
                        Duration.ofSeconds(1)))
                .build()
                .start());
        Gateway g = gateway(access);
        for (var version : List.of(HttpClient.Version.HTTP_1_1, HttpClient.Version.HTTP_2)) {
            assertThat(get(g, "127.0.0.2", version, "/x").statusCode())
                    .as(version.toString())
                    .isEqualTo(403);
            HttpResponse<String> served = get(g, "127.0.0.3", version, "/x");
            assertThat(served.statusCode()).as(version.toString()).isEqualTo(200);
            assertThat(served.version()).isEqualTo(version);
        }
    }

    @Test
    void aRouteAllowListLetsOnlyItsBlocksReachThatRoute() throws Exception {
        var access = closeLater(AccessControl.builder(new AccessPolicy(
                        AccessList.open(),
                        Map.of(),
                        Map.of(
                                "admin",
                                AccessList.of(List.of("127.0.0.3/32", "10.0.0.0/8"), List.of()),
                                "all",
                                AccessList.open()),
                        Duration.ofSeconds(1)))
                .build()
                .start());
        Gateway g = gateway(access);
        assertThat(status(g, "127.0.0.2", "/admin/users")).isEqualTo(403);
        assertThat(status(g, "127.0.0.3", "/admin/users")).isEqualTo(200);
        assertThat(status(g, "127.0.0.2", "/shop")).isEqualTo(200);
    }

    @Test
    void xForwardedForNamesTheClientOnlyWhenTheTrustedProxySentIt() throws Exception {
        var access = closeLater(AccessControl.builder(new AccessPolicy(
                        AccessList.of(List.of(), List.of("198.51.100.7")), Map.of(), Map.of(), Duration.ofSeconds(1)))
                .trustedProxies(List.of("127.0.0.4"))
                .build()
                .start());
        Gateway g = gateway(access, new Forwarding(true, "torii", true, List.of("127.0.0.4")));
        assertThat(get(g, "127.0.0.4", HttpClient.Version.HTTP_1_1, "/x", "x-forwarded-for", "198.51.100.7")
                        .statusCode())
                .as("from the trusted proxy")
                .isEqualTo(403);
        assertThat(get(g, "127.0.0.4", HttpClient.Version.HTTP_1_1, "/x", "x-forwarded-for", "198.51.100.7, 127.0.0.4")
                        .statusCode())
                .as("trusted hops are skipped from the right")
                .isEqualTo(403);
        assertThat(get(
                                g,
                                "127.0.0.4",
                                HttpClient.Version.HTTP_1_1,
                                "/x",
                                "x-forwarded-for",
                                "198.51.100.7, 203.0.113.1")
                        .statusCode())
                .as("the right-most untrusted hop is the client")
                .isEqualTo(200);
        assertThat(get(g, "127.0.0.5", HttpClient.Version.HTTP_1_1, "/x", "x-forwarded-for", "198.51.100.7")
                        .statusCode())
                .as("an untrusted peer cannot blame someone else")
                .isEqualTo(200);
        assertThat(access.permitsConnection(InetAddress.getByName("127.0.0.4"), "web"))
                .as("a trusted proxy is accepted; its clients are judged per request")
                .isTrue();
    }

    @Test
    void aListFileIsReloadedWhenItChangesAndABrokenOneKeepsThePreviousList() throws Exception {
        Path file = dir.resolve("blocked.txt");
        write(file, "# bad actors\ndeny 127.0.0.2\n", 1);
        var access = closeLater(AccessControl.builder(
                        new AccessPolicy(AccessList.open().withFile(file), Map.of(), Map.of(), Duration.ofSeconds(1)))
                .build()
                .start());
        Gateway g = gateway(access);
        assertThat(status(g, "127.0.0.2", "/x")).isEqualTo(403);
        assertThat(status(g, "127.0.0.3", "/x")).isEqualTo(200);

        write(file, "deny 127.0.0.3\n", 2);
        assertThat(access.reload()).isEqualTo(1);
        assertThat(status(g, "127.0.0.2", "/x")).isEqualTo(200);
        assertThat(status(g, "127.0.0.3", "/x")).isEqualTo(403);

        write(file, "deny 127.0.0.3\nblock everyone\n", 3);
        assertThat(access.reload()).isZero();
        assertThat(access.stats().reloadFailures()).isEqualTo(1);
        assertThat(status(g, "127.0.0.3", "/x")).as("the previous list stays").isEqualTo(403);
        assertThat(access.reload()).as("a broken version is reported once").isZero();
        assertThat(access.stats().reloadFailures()).isEqualTo(1);
    }

    @Test
    void aBrokenListFileRefusesToStart() throws Exception {
        Path file = dir.resolve("blocked.txt");
        write(file, "deny 127.0.0.300\n", 1);
        var access = AccessControl.builder(
                        new AccessPolicy(AccessList.open().withFile(file), Map.of(), Map.of(), Duration.ofSeconds(1)))
                .build();
        assertThatThrownBy(access::start)
                .hasMessage("access list " + file
                        + ":1: 'deny 127.0.0.300' (expected: allow CIDR or deny CIDR, e.g. deny 192.0.2.0/24)");
    }

    @Test
    void aTcpListenerClosesADeniedConnectionAtConnectTime() throws Exception {
        var access = closeLater(AccessControl.builder(new AccessPolicy(
                        AccessList.open(),
                        Map.of("raw", AccessList.of(List.of(), List.of("127.0.0.2"))),
                        Map.of(),
                        Duration.ofSeconds(1)))
                .build()
                .start());
        Gateway g = gateway(access);
        assertThat(tcpExchange(g, "127.0.0.2")).as("closed without an answer").isEmpty();
        assertThat(tcpExchange(g, "127.0.0.3")).startsWith("HTTP/1.1 200");
        assertThat(access.stats().deniedConnections()).isEqualTo(1);
        assertThat(access.permits(InetAddress.getByName("127.0.0.2"), "web")).isTrue();
        assertThat(access.permits(InetAddress.getByName("127.0.0.2"), "raw")).isFalse();
        assertThat(access.permitsConnection(InetAddress.getByName("127.0.0.2"), "raw"))
                .isFalse();
        assertThat(access.permitsConnection(InetAddress.getByName("127.0.0.3"), "raw"))
                .isTrue();
    }

    /** Sends an HTTP request through the TCP listener from {@code from}; returns what came back before EOF. */
    private String tcpExchange(Gateway g, String from) throws Exception {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            s.connect(g.address("raw"), 5000);
            s.setSoTimeout(20_000);
            try {
                s.getOutputStream()
                        .write("GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
            } catch (java.io.IOException e) {
                return ""; // closed before we wrote
            }
            InputStream in = s.getInputStream();
            try {
                return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            } catch (java.net.SocketException e) {
                return ""; // reset: closed
            }
        }
    }

    @Test
    void badBlocksAreRefusedWithTheValue() {
        assertThatThrownBy(() -> AccessList.of(List.of("10.0.0.0/40"), List.of()))
                .hasMessage("access allow: '10.0.0.0/40' (expected: a CIDR block like 10.0.0.0/8 or an address)");
    }

    private static void write(Path file, String text, int second) throws Exception {
        Files.writeString(file, text);
        Files.setLastModifiedTime(
                file, FileTime.from(Instant.parse("2026-01-01T00:00:00Z").plusSeconds(second)));
    }
}
