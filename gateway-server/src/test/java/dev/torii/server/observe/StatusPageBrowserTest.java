package dev.torii.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.torii.server.ToriiServer;
import dev.torii.server.config.ConfigLoader;
import dev.torii.testing.NginxBackend;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in Debian's headless Chromium while traffic flows through the gateway to nginx: the DOM Chromium
 * rendered holds charts with data points, drawn by the page's own script from {@code status.json}. Also writes a
 * screenshot to {@code target/status-page.png} (the one in docs/ comes from here).
 */
class StatusPageBrowserTest {
    @TempDir
    Path dir;

    @Test
    void chromiumRendersChartsWithDataPointsWhileTrafficFlows() throws Exception {
        String chromium = chromium();
        try (NginxBackend nginx = NginxBackend.start()) {
            Path file = Files.writeString(dir.resolve("torii.yaml"), """
                    listeners:
                      - { name: web, protocol: http, address: "127.0.0.1:0" }
                    routes:
                      - { name: api, match: { pathPrefix: / }, upstream: nginx }
                    upstreams:
                      nginx: { endpoints: [ "%s" ] }
                    admin: { address: "127.0.0.1:0" }
                    """.formatted(nginx.endpoint()));
            try (ToriiServer server = ToriiServer.start(ConfigLoader.load(file))) {
                String web =
                        "http://127.0.0.1:" + server.gateway().address("web").getPort();
                String admin = "http://127.0.0.1:"
                        + server.admin().orElseThrow().address().getPort();
                HttpClient http = HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .build();
                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger sent = new AtomicInteger();
                Thread traffic = Thread.ofPlatform().daemon().start(() -> {
                    // Bounded: at most 20,000 requests, and it stops with the test.
                    while (!stop.get() && sent.get() < 20_000) {
                        try {
                            String path = sent.get() % 10 == 0 ? "/status/404" : "/";
                            http.send(
                                    HttpRequest.newBuilder(URI.create(web + path))
                                            .build(),
                                    HttpResponse.BodyHandlers.discarding());
                            sent.incrementAndGet();
                        } catch (Exception e) {
                            return;
                        }
                    }
                });
                try {
                    // Three sampling intervals with requests in them, so every chart has a line to draw.
                    ObservabilityServerTest.await(
                            () -> countMatches(get(http, admin + "/status.json"), "\"rps\":[1-9]") >= 3,
                            "3 status points with traffic");
                    String dom = run(chromium, "--virtual-time-budget=5000", "--dump-dom", admin + "/");
                    assertThat(dataPoints(dom, "chart-rps")).isGreaterThanOrEqualTo(3);
                    assertThat(dataPoints(dom, "chart-latency")).isGreaterThanOrEqualTo(3);
                    assertThat(dataPoints(dom, "chart-errors")).isGreaterThanOrEqualTo(3);
                    assertThat(dom)
                            .containsPattern("<polyline points=\"[0-9.]+,[0-9.]+ [0-9.]+,[0-9.]+")
                            .contains("<td id=\"maintenance\" class=\"off\">off</td>")
                            .contains("<td>nginx</td><td>" + nginx.endpoint() + "</td>")
                            .doesNotContain("status.json: HTTP");
                    run(
                            chromium,
                            "--virtual-time-budget=5000",
                            "--window-size=1280,900",
                            "--screenshot=" + Path.of("target/status-page.png").toAbsolutePath(),
                            admin + "/");
                } finally {
                    stop.set(true);
                    traffic.join(10_000);
                }
            }
        }
    }

    private static int dataPoints(String dom, String id) {
        Matcher m = Pattern.compile("id=\"" + id + "\" data-points=\"(\\d+)\"").matcher(dom);
        assertThat(m.find()).as("%s in the rendered DOM", id).isTrue();
        return Integer.parseInt(m.group(1));
    }

    private static int countMatches(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    private static String get(HttpClient http, String url) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString())
                    .body();
        } catch (Exception e) {
            throw new AssertionError(url + ": " + e, e);
        }
    }

    private String run(String chromium, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                chromium,
                "--headless",
                "--no-sandbox", // tests may run as root
                "--disable-gpu",
                "--no-first-run",
                "--user-data-dir=" + dir.resolve("chromium-profile")));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command)
                .redirectError(dir.resolve("chromium.err").toFile())
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish within 60 s");
        }
        assertThat(p.exitValue())
                .as("chromium's exit status; stderr: %s", Files.readString(dir.resolve("chromium.err")))
                .isZero();
        return new String(out, StandardCharsets.UTF_8);
    }

    private static String chromium() {
        for (String c : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser")) {
            if (Files.isExecutable(Path.of(c))) {
                return c;
            }
        }
        throw new AssertionError("chromium is needed for this test: apt-get install -y chromium");
    }
}
