package dev.torii.script;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example and benchmark plugins type-check against {@code torii.d.ts} with the TypeScript compiler
 * ({@code tsc --noEmit} with {@code allowJs} and {@code checkJs}; each phase function says
 * {@code @param {Exchange} ex} in JSDoc), so the typings cannot drift from the API the plugins use. The compiler is
 * npm's {@code typescript} at {@link #TYPESCRIPT}, which {@code ./test.sh} installs when it is missing.
 */
class PluginTypingsTest {
    /** The pinned compiler version; test.sh installs exactly this one. */
    static final String TYPESCRIPT = "5.9.3";

    @TempDir
    Path dir;

    @Test
    void theExampleAndBenchmarkPluginsTypeCheckAgainstToriiDts() throws Exception {
        List<Path> plugins = plugins();
        assertThat(plugins).hasSizeGreaterThanOrEqualTo(4);

        Result r = tsc(plugins);

        assertThat(r.exitCode()).as(r.output()).isZero();
    }

    @Test
    void aPluginThatUsesAnApiTheTypingsLackFailsTheTypeCheck() throws Exception {
        Path bad = Files.createDirectories(dir.resolve("bad"));
        Files.writeString(bad.resolve("plugin.js"), """
                /**
                 * @param {Exchange} ex
                 * @param {any} cfg
                 * @returns {Reply | void}
                 */
                export function onRequest(ex, cfg) {
                  ex.request.headers.append("x-a", "b");
                  return ex.respond("200", "ok\\n");
                }
                """);
        List<Path> plugins = new ArrayList<>(plugins());
        plugins.add(bad.resolve("plugin.js"));

        Result r = tsc(plugins);

        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output())
                .contains("plugin.js(7,22): error TS2339: Property 'append' does not exist on type 'Headers'")
                .contains("plugin.js(8,21): error TS2345");
    }

    @Test
    void theCompilerIsThePinnedVersion() throws Exception {
        Result r = run(List.of(tscCommand(), "--version"));
        assertThat(r.output().strip()).isEqualTo("Version " + TYPESCRIPT);
    }

    private record Result(int exitCode, String output) {}

    private Result tsc(List<Path> plugins) throws Exception {
        Path root = repositoryRoot();
        List<String> files = new ArrayList<>();
        files.add(root.resolve("gateway-scripts/src/main/resources/torii.d.ts").toString());
        plugins.forEach(p -> files.add(p.toString()));
        // No DOM or Node library: a plugin sees only ES2022 and what torii.d.ts declares (torii, console).
        String config = """
                { "compilerOptions": { "allowJs": true, "checkJs": true, "noEmit": true, "target": "es2022",
                    "module": "es2022", "lib": ["es2022"], "types": [], "strict": false },
                  "files": [%s] }
                """.formatted(files.stream().map(f -> "\"" + f + "\"").collect(Collectors.joining(", ")));
        Path tsconfig = Files.writeString(dir.resolve("tsconfig.json"), config);
        return run(List.of(tscCommand(), "-p", tsconfig.toString(), "--pretty", "false"));
    }

    private static Result run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("tsc finished").isTrue();
        return new Result(p.exitValue(), out);
    }

    private static String tscCommand() {
        for (String d : List.of("/usr/local/bin", "/usr/bin")) {
            if (Files.isExecutable(Path.of(d, "tsc"))) {
                return d + "/tsc";
            }
        }
        throw new AssertionError("tsc not found: install it with ./test.sh --install-only (npm install -g typescript@"
                + TYPESCRIPT + ")");
    }

    /** examples/plugins/NAME/plugin.js and bench/plugins/NAME/plugin.js. */
    private static List<Path> plugins() throws IOException {
        Path root = repositoryRoot();
        List<Path> all = new ArrayList<>();
        for (String parent : List.of("examples/plugins", "bench/plugins")) {
            try (Stream<Path> dirs = Files.list(root.resolve(parent))) {
                dirs.map(d -> d.resolve("plugin.js"))
                        .filter(Files::isRegularFile)
                        .sorted()
                        .forEach(all::add);
            }
        }
        return all;
    }

    private static Path repositoryRoot() {
        return TestPlugins.example("x").getParent().getParent().getParent();
    }
}
