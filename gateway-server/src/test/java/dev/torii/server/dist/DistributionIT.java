package dev.torii.server.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The self-contained archive {@code torii-VERSION-linux-x86_64.tar.gz}: unpacked on a host as if it had no JDK
 * ({@code JAVA_HOME} unset, no {@code java} on {@code PATH}), its {@code bin/torii} prints the version and proxies a
 * request, on the jlink runtime it carries.
 */
class DistributionIT {
    @TempDir
    static Path unpacked;

    static Path home;
    /** PATH for bin/torii: only the few tools the launcher uses, and no java. */
    static Map<String, String> noJdk;

    @BeforeAll
    static void unpack() throws Exception {
        Dist.Result tar = Dist.run(
                List.of("tar", "-xzf", Dist.archive().toString(), "-C", unpacked.toString()),
                null,
                Duration.ofMinutes(2));
        assertThat(tar.exitCode()).as(tar.output()).isZero();
        home = unpacked.resolve("torii-" + System.getProperty("torii.version"));
        Path tools = Files.createDirectories(unpacked.resolve("tools"));
        for (String tool : List.of("dirname", "grep", "sed", "ls")) {
            Path real = Stream.of("/usr/bin/", "/bin/")
                    .map(d -> Path.of(d + tool))
                    .filter(Files::isExecutable)
                    .findFirst()
                    .orElseThrow();
            Files.createSymbolicLink(tools.resolve(tool), real);
        }
        noJdk = Map.of("PATH", tools.toString(), "HOME", unpacked.toString(), "LANG", "C.UTF-8");
    }

    @Test
    void theArchiveHoldsARuntimeTheAotCacheAndOnlyTheLinuxX8664Natives() throws Exception {
        assertThat(home.resolve("runtime/bin/java")).isExecutable();
        assertThat(home.resolve("lib/torii.aot")).isNotEmptyFile();
        assertThat(home.resolve("lib/torii-jit.aot")).isNotEmptyFile();
        List<String> jars;
        try (Stream<Path> lib = Files.list(home.resolve("lib"))) {
            jars = lib.map(p -> p.getFileName().toString()).toList();
        }
        assertThat(jars)
                .anyMatch(j -> j.startsWith("netty-tcnative-boringssl-static-") && j.endsWith("-linux-x86_64.jar"))
                .anyMatch(j -> j.startsWith("netty-transport-native-epoll-") && j.endsWith("-linux-x86_64.jar"))
                .noneMatch(j -> j.contains("osx") || j.contains("windows") || j.contains("aarch_64"));
    }

    @Test
    void versionRunsWithoutAJdkOnTheHost() throws Exception {
        Dist.Result r =
                Dist.run(List.of(home.resolve("bin/torii").toString(), "version"), noJdk, Duration.ofMinutes(1));

        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output()).startsWith("torii " + System.getProperty("torii.version") + " (java 25");
        // Quiet: no JDK line, no JVM warnings.
        assertThat(r.output().lines()).hasSize(1);
    }

    @Test
    void runProxiesARequestWithoutAJdkOnTheHost(@TempDir Path dir) throws Exception {
        int port = Dist.freePort();
        int echo = Dist.freePort();
        Path config = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: web, address: "127.0.0.1:%d" }
                routes:
                  - { match: { pathPrefix: "/" }, upstream: demo }
                upstreams:
                  demo: { endpoints: [ "127.0.0.1:%d" ] }
                demo: { echo: "127.0.0.1:%d" }
                """.formatted(port, echo, echo));
        Path log = dir.resolve("torii.log");
        Process torii = Dist.start(
                List.of(home.resolve("bin/torii").toString(), "run", "--config", config.toString()), noJdk, log);
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> response =
                    Dist.awaitAnswer(client, URI.create("http://127.0.0.1:" + port + "/hello"), torii, log);

            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).startsWith("GET /hello HTTP/1.1").containsPattern("(?m)^via: [0-9.]+ torii$");
        } finally {
            Dist.stop(torii);
        }
        // No JavaScript engine without plugins, and the runtime of the archive.
        assertThat(Files.readString(log)).doesNotContain("GraalJS").doesNotContain("WARNING");
    }
}
