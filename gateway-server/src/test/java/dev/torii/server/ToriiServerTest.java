package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.config.ConfigLoader;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The standalone server end to end: a YAML file, the gateway it describes, the demo echo service, and real curl. */
class ToriiServerTest {
    @Test
    void curlReachesTheDemoEchoServiceThroughTheGatewayStartedFromYaml(@TempDir Path dir) throws Exception {
        int echoPort = freePort();
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:0" }
                routes:
                  - match: { pathPrefix: / }
                    upstream: demo
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                """.formatted(echoPort, echoPort));

        try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
            assertThat(server.demoEcho())
                    .get()
                    .extracting(e -> e.address().getPort())
                    .isEqualTo(echoPort);
            int port = server.gateway().address("web").getPort();

            String get = curl("-i", "http://127.0.0.1:" + port + "/hello?x=1", "-H", "X-Test: yes");
            assertThat(get)
                    .startsWith("HTTP/1.1 200")
                    .contains("GET /hello?x=1 HTTP/1.1")
                    .containsIgnoringCase("x-test: yes")
                    .containsIgnoringCase("x-forwarded-for: 127.0.0.1")
                    .containsIgnoringCase("via: 1.1 torii")
                    .contains("body: 0 bytes");

            String post = curl("http://127.0.0.1:" + port + "/upload", "--data-binary", "hello, torii");
            assertThat(post).contains("POST /upload HTTP/1.1").contains("body: 12 bytes");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String curl(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("/usr/bin/curl", "-sS", "--max-time", "10"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("curl exit code; output:\n" + output).isZero();
        return output;
    }
}
