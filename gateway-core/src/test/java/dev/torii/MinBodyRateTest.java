package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.RawH2Client;
import dev.torii.testing.TestUpstream;
import dev.torii.upstream.Upstream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code limits.minRequestBodyRate} (slow POST): a body trickled over a raw socket (HTTP/1.1) or in tiny DATA frames
 * (h2c) gets 408 and is counted, while a normal multi-megabyte upload from another address passes over both protocols.
 * The trickle is bounded in count; nothing asserts a duration.
 */
class MinBodyRateTest {
    private TestUpstream upstream;
    private Gateway gateway;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @BeforeEach
    void start() {
        upstream = TestUpstream.start((req, res) -> res.respond(200, List.of(), "got " + req.body().length + "\n"));
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .limits(Limits.builder()
                        .minRequestBodyRate(new MinBodyRate(1000, Duration.ofMillis(300), Duration.ofMillis(300)))
                        .build())
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("app")
                                .endpoint(upstream.endpoint())
                                .build())
                        .route(Route.builder("all").upstream("app").build())
                        .build())
                .meterRegistry(registry)
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private double refusedCount() {
        return registry.get("torii.request.body.too.slow").functionCounter().count();
    }

    @Test
    void aBodyTrickledOverHttp11Gets408WhileABigUploadFromAnotherAddressPasses() throws Exception {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
            s.connect(gateway.address("web"), 5_000);
            s.setSoTimeout(100);
            OutputStream out = s.getOutputStream();
            out.write("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answer = trickle(s, out);
            assertThat(answer).startsWith("HTTP/1.1 408");
        }
        assertThat(refusedCount()).isEqualTo(1.0);

        byte[] big = new byte[4 << 20];
        try (HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .localAddress(InetAddress.getByName("127.0.0.3"))
                .build()) {
            HttpResponse<String> r = client.send(
                    HttpRequest.newBuilder(URI.create(
                                    "http://127.0.0.1:" + gateway.address("web").getPort() + "/up"))
                            .timeout(Duration.ofSeconds(60))
                            .POST(HttpRequest.BodyPublishers.ofByteArray(big))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("got " + big.length + "\n");
        }
        assertThat(refusedCount()).isEqualTo(1.0);
    }

    @Test
    void aBodyTrickledInH2DataFramesGets408WhileABigH2UploadPasses() throws Exception {
        try (RawH2Client h2 = RawH2Client.connect(gateway.address("web"))) {
            h2.headers(1, RawH2Client.request("POST", "/upload", "a"), false).flush();
            h2.timeout(100);
            RawH2Client.Outcome outcome = null;
            for (int i = 0; i < 150 && outcome == null; i++) {
                try {
                    h2.data(1, new byte[] {'x'}, false).flush();
                } catch (IOException e) {
                    break; // the gateway closed the stream's connection
                }
                outcome = poll(h2);
            }
            if (outcome == null) {
                h2.timeout(10_000);
                outcome = h2.await(1);
            }
            assertThat(outcome.status()).isEqualTo(408);
        }
        assertThat(refusedCount()).isEqualTo(1.0);

        byte[] big = new byte[4 << 20];
        String url = "http://127.0.0.1:" + gateway.address("web").getPort();
        try (HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_2)
                .localAddress(InetAddress.getByName("127.0.0.3"))
                .build()) {
            // A request without a body upgrades the connection to h2c; the upload then goes as an h2 stream.
            client.send(
                    HttpRequest.newBuilder(URI.create(url + "/warm")).build(), HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> r = client.send(
                    HttpRequest.newBuilder(URI.create(url + "/up"))
                            .timeout(Duration.ofSeconds(60))
                            .POST(HttpRequest.BodyPublishers.ofByteArray(big))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("got " + big.length + "\n");
        }
        assertThat(refusedCount()).isEqualTo(1.0);
    }

    /** The end of stream 1 if it came within the socket timeout, else null. */
    private static RawH2Client.Outcome poll(RawH2Client h2) throws IOException {
        try {
            return h2.await(1);
        } catch (IOException e) {
            if (e.getCause() instanceof SocketTimeoutException) {
                return null;
            }
            throw e;
        }
    }

    /** Sends one body byte every socket timeout until the gateway answers or closes (at most 150 bytes). */
    private static String trickle(Socket s, OutputStream out) throws IOException {
        InputStream in = s.getInputStream();
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        for (int i = 0; i < 150; i++) {
            try {
                out.write('x');
                out.flush();
            } catch (IOException e) {
                break;
            }
            try {
                int n = in.read();
                if (n < 0) {
                    break;
                }
                answer.write(n);
                s.setSoTimeout(10_000);
                answer.writeBytes(in.readNBytes(11));
                break;
            } catch (SocketTimeoutException e) {
                // nothing yet: one more byte
            }
        }
        return answer.toString(StandardCharsets.US_ASCII);
    }
}
