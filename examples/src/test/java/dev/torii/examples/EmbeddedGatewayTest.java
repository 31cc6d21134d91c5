package dev.torii.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.Gateway;
import dev.torii.testing.NginxBackend;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/** The README's embedding example, run for real in front of nginx. */
class EmbeddedGatewayTest {
    @Test
    void theEmbeddedGatewayProxiesToNginxAndItsHookAnswersAdminPaths() throws Exception {
        try (NginxBackend nginx = NginxBackend.start();
                Gateway gateway = EmbeddedGateway.start("127.0.0.1:0", nginx.endpoint());
                HttpClient client = HttpClient.newHttpClient()) {
            String base = "http://127.0.0.1:" + gateway.address("web").getPort();
            HttpResponse<String> ok = client.send(
                    HttpRequest.newBuilder(URI.create(base + "/")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.body()).isEqualTo("ok\n");
            assertThat(ok.headers().firstValue("x-served-by")).hasValue("torii");
            assertThat(ok.headers().firstValue("server"))
                    .hasValueSatisfying(v -> assertThat(v).startsWith("nginx"));

            HttpResponse<String> admin = client.send(
                    HttpRequest.newBuilder(URI.create(base + "/admin/users")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(admin.statusCode()).isEqualTo(404);
            assertThat(admin.body()).isEqualTo("not here\n");
            assertThat(admin.headers().firstValue("x-served-by")).hasValue("torii");
        }
    }
}
