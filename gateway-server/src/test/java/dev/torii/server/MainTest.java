package dev.torii.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class MainTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int torii(String... args) {
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void exactlyRunWithAConfigTakesTheFastPathAndEverythingElseGoesToPicocli() {
        assertThat(Main.runConfig(new String[] {"run", "--config", "a.yaml"})).isEqualTo(Path.of("a.yaml"));
        assertThat(Main.runConfig(new String[] {"run", "-c", "/etc/torii/torii.yaml"}))
                .isEqualTo(Path.of("/etc/torii/torii.yaml"));
        assertThat(Main.runConfig(new String[] {"run", "--config=a.yaml"})).isEqualTo(Path.of("a.yaml"));
        // Help, other commands, extra or missing arguments, an option where the file should be: picocli's.
        assertThat(Main.runConfig(new String[] {"run", "--help"})).isNull();
        assertThat(Main.runConfig(new String[] {"check", "--config", "a.yaml"})).isNull();
        assertThat(Main.runConfig(new String[] {"run", "--config", "a.yaml", "--verbose"}))
                .isNull();
        assertThat(Main.runConfig(new String[] {"run", "--config"})).isNull();
        assertThat(Main.runConfig(new String[] {"run", "--config", "--help"})).isNull();
        assertThat(Main.runConfig(new String[] {"run", "--config="})).isNull();
        assertThat(Main.runConfig(new String[] {"run", "--config", "a\u0000b"})).isNull();
    }

    @Test
    void theFastPathReportsAnInvalidFileWithItsPositionAndExitsOne(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("torii.yaml"), "listeners: [ { name: web, address: nowhere } ]\n");
        StringWriter errors = new StringWriter();

        assertThat(Main.Run.run(file, new PrintWriter(errors, true))).isEqualTo(1);
        assertThat(errors.toString()).startsWith(file + ":1:");
    }

    @Test
    void checkSaysOkAndExitsZeroForAValidFile(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(
                dir.resolve("torii.yaml"), "listeners: [ { name: web, address: \"127.0.0.1:8080\" } ]\n");

        assertThat(torii("check", "--config", file.toString())).isZero();
        assertThat(out.toString()).isEqualTo(file + ": ok" + System.lineSeparator());
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void checkPrintsEveryErrorOnStderrAndExitsOne(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners: [ { name: web, address: "127.0.0.1:8080" } ]
                ioThreads: 0
                limits: { idleTimeout: soon }
                """);

        assertThat(torii("check", "-c", file.toString())).isEqualTo(1);
        assertThat(out.toString()).isEmpty();
        assertThat(err.toString().lines())
                .containsExactly(
                        file + ":2:12: ioThreads: 0 (expected: > 0)",
                        file + ":3:24: limits.idleTimeout: 'soon' (expected: a duration like 500ms, 10s, 5m or 1h)");
    }

    @Test
    void checkReportsPluginProblemsInTheYamlAndInThePluginsFiles(@TempDir Path dir) throws Exception {
        Path plugin = Files.createDirectories(dir.resolve("plugins/limiter"));
        Files.writeString(plugin.resolve("plugin.json"), """
                { "name": "limiter", "version": "1",
                  "config": { "type": "object", "properties": { "rate": { "type": "integer", "minimum": 1 } } } }
                """);
        Files.writeString(plugin.resolve("plugin.js"), "export function onRequest(ex, cfg) {}\n");
        Path broken = Files.createDirectories(dir.resolve("plugins/broken"));
        Files.writeString(broken.resolve("plugin.json"), "{ \"name\": \"broken\", \"version\": \"1\" }\n");
        Files.writeString(broken.resolve("plugin.js"), "export function onRequest(ex) {\n  return ex.respond(;\n}\n");
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners: [ { name: web, address: "127.0.0.1:8080" } ]
                plugins:
                  global: [ { name: limiter, config: { rate: 0 } }, { name: broken } ]
                """);

        assertThat(torii("check", "-c", file.toString())).isEqualTo(1);
        assertThat(out.toString()).isEmpty();
        assertThat(err.toString().lines())
                .containsExactly(
                        broken.resolve("plugin.js") + ":2:21: SyntaxError: Expected an operand but found ;",
                        file + ":3:46: plugins.global[0].config.rate: 0 (expected: >= 1)");

        Files.writeString(
                file,
                "listeners: [ { name: web, address: \"127.0.0.1:8080\" } ]\n"
                        + "plugins: { global: [ { name: limiter, config: { rate: 5 } } ] }\n");
        out.getBuffer().setLength(0);
        err.getBuffer().setLength(0);
        assertThat(torii("check", "-c", file.toString())).isZero();
        assertThat(out.toString()).isEqualTo(file + ": ok" + System.lineSeparator());
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void checkOfAMissingFileExitsOne(@TempDir Path dir) {
        Path file = dir.resolve("nope.yaml");
        assertThat(torii("check", "--config", file.toString())).isEqualTo(1);
        assertThat(err.toString().strip()).isEqualTo(file + ": cannot read: no such file");
    }

    @Test
    void runRefusesAnInvalidFileWithTheSameReport(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("torii.yaml"), "listeners: []\n");
        assertThat(torii("run", "--config", file.toString())).isEqualTo(1);
        assertThat(err.toString().strip()).isEqualTo(file + ":1:12: listeners: [] (expected: at least one listener)");
    }

    @Test
    void versionPrintsTheBuildVersion() {
        assertThat(torii("version")).isZero();
        assertThat(out.toString()).startsWith("torii " + Main.version() + " (java ");
        assertThat(Main.version()).isNotEqualTo("unknown").doesNotContain("${");
    }

    @Test
    void usageErrorsExitTwo() {
        assertThat(torii()).isEqualTo(2);
        assertThat(err.toString()).contains("Missing command");
        assertThat(torii("check")).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required option: '--config=FILE'");
    }

    @Test
    void aBindFailureNamesTheSettingThatHoldsTheAddress(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("torii.yaml"), """
                listeners:
                  - { name: dns, protocol: dns, address: "127.0.0.1:5353" }
                  - { name: web, address: "127.0.0.1:8080" }
                admin: { address: "127.0.0.1:9901" }
                demo: { echo: "127.0.0.1:9000" }
                """);

        // The messages as Engine, DnsServer, AdminServer and EchoService word a failed bind.
        assertThat(Main.bindSetting(
                        file,
                        "listener 'web': cannot bind 127.0.0.1:8080: bind(..) failed with error(-98): Address already"
                                + " in use"))
                .isEqualTo("listeners[1].address");
        assertThat(Main.bindSetting(file, "DNS server 'dns': cannot bind 127.0.0.1:5353: Address already in use"))
                .isEqualTo("listeners[0].address");
        assertThat(Main.bindSetting(file, "admin: cannot bind 127.0.0.1:9901: Address already in use"))
                .isEqualTo("admin.address");
        assertThat(Main.bindSetting(file, "demo echo service: cannot bind 127.0.0.1:9000: Address already in use"))
                .isEqualTo("demo.echo");
        assertThat(Main.bindSetting(file, "listener 'gone': cannot bind 127.0.0.1:1: Permission denied"))
                .isEqualTo("the address of listener 'gone'");
        assertThat(Main.bindSetting(file, "plugin x: no such file")).isNull();
    }
}
