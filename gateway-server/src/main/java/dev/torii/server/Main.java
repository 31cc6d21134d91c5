package dev.torii.server;

import dev.torii.server.config.ConfigError;
import dev.torii.server.config.ConfigException;
import dev.torii.server.config.ConfigLoader;
import dev.torii.server.config.ServerConfig;
import dev.torii.server.demo.EchoService;
import dev.torii.server.internal.Signals;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code torii} command line: {@code run}, {@code check} and {@code version}.
 *
 * <p>Exit codes: 0 success; 1 invalid configuration or a failure to start; 2 wrong usage (picocli's default).
 * Only {@code check}'s report and {@code version} print to stdout/stderr directly; everything else goes through the
 * logger, so it lands wherever {@code conf/logback.xml} sends it.
 */
@Command(
        name = "torii",
        mixinStandardHelpOptions = true,
        versionProvider = Main.VersionProvider.class,
        description = "Torii, a programmable HTTP gateway.",
        subcommands = {
            Main.Run.class,
            Main.Check.class,
            Main.Version.class,
            Main.Train.class,
            CommandLine.HelpCommand.class,
        })
public final class Main implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(Main.class);

    @Spec
    CommandSpec spec;

    /** Runs the command line and exits the JVM with its exit code. */
    public static void main(String[] args) {
        Path config = runConfig(args);
        if (config != null) {
            // What containers and units start: no command-line model is built for it (picocli's reflection and
            // its ~300 classes, none of them in the AOT cache, cost about a third of a second of start-up).
            System.exit(Run.run(config, new PrintWriter(System.err, true, StandardCharsets.UTF_8)));
        }
        System.exit(commandLine().execute(args));
    }

    /**
     * The FILE of exactly {@code run -c FILE}, {@code run --config FILE} or {@code run --config=FILE}; null for any
     * other command line, which picocli parses (help, usage errors and the other commands included).
     */
    static Path runConfig(String[] args) {
        String file = null;
        if (args.length == 2 && args[0].equals("run") && args[1].startsWith("--config=")) {
            file = args[1].substring("--config=".length());
        } else if (args.length == 3 && args[0].equals("run") && (args[1].equals("-c") || args[1].equals("--config"))) {
            file = args[2];
        }
        if (file == null || file.isEmpty() || file.startsWith("-")) {
            return null;
        }
        try {
            return Path.of(file);
        } catch (java.nio.file.InvalidPathException e) {
            return null; // picocli says what is wrong with it
        }
    }

    /** A fresh command line; {@code commandLine().execute(args)} returns the exit code without exiting. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main());
    }

    /** Without a subcommand there is nothing to do: a usage error. */
    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing command (expected one of: run, check, version)");
    }

    /** The version this build carries ({@code unknown} when run from classes without filtered resources). */
    public static String version() {
        try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version", "");
                if (!v.isEmpty() && !v.startsWith("${")) {
                    return v;
                }
            }
        } catch (IOException e) {
            // Fall through to the manifest: a version is worth showing even if the resource is damaged.
        }
        String manifest = Main.class.getPackage().getImplementationVersion();
        return manifest != null ? manifest : "unknown";
    }

    /** {@code torii run --config FILE}: starts the gateway and runs until SIGTERM or SIGINT. */
    @Command(
            name = "run",
            mixinStandardHelpOptions = true,
            description = "Starts the gateway and runs until SIGTERM or SIGINT, then shuts down gracefully.")
    public static final class Run implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(
                names = {"-c", "--config"},
                required = true,
                paramLabel = "FILE",
                description = "The configuration file (YAML).")
        Path config;

        /** Loads, starts, then blocks until a shutdown hook has closed the server. */
        @Override
        public Integer call() {
            return run(config, spec.commandLine().getErr());
        }

        /**
         * Loads {@code config}, starts, then blocks until a shutdown hook has closed the server; configuration errors
         * go to {@code err}. The exit code: 0 after a shutdown, 1 when the file is invalid or the server cannot start.
         */
        static int run(Path config, PrintWriter err) {
            // SIGHUP reloads; the handler goes in first so a SIGHUP during start-up is ignored, not fatal.
            AtomicReference<ToriiServer> running = new AtomicReference<>();
            Signals.onHup(() -> {
                ToriiServer s = running.get();
                if (s == null) {
                    log.warn("SIGHUP ignored: still starting");
                } else {
                    log.info("SIGHUP: reloading {}", config);
                    s.reload();
                }
            });
            ServerConfig cfg;
            // One JavaScript engine: the one that checks the plugins while the file is read then serves them (none
            // starts when the file attaches no plugin). start() takes it over, or closes it when it fails.
            CheckedScripts scripts = new CheckedScripts();
            try {
                cfg = ConfigLoader.load(config, scripts);
            } catch (ConfigException e) {
                scripts.close();
                report(err, e);
                return 1;
            }
            log.info("torii {} starting with {}", version(), config);
            ToriiServer server;
            try {
                server = ToriiServer.start(cfg, config, scripts);
            } catch (UncheckedIOException e) {
                // An address in use or not available: the message says which, a stack trace would only hide it, and
                // the setting to change is named, since the quickstart's fixed ports are often taken.
                String setting = bindSetting(config, e.getMessage());
                if (setting != null) {
                    log.error(
                            "cannot start: {} (change {} in {}, or stop what uses that address)",
                            e.getMessage(),
                            setting,
                            config);
                } else {
                    log.error("cannot start: {}", e.getMessage());
                }
                return 1;
            } catch (RuntimeException e) {
                log.error("cannot start: {}", e.getMessage(), e);
                return 1;
            }
            running.set(server);
            Signals.exitZeroOnTerm();
            CountDownLatch stopped = new CountDownLatch(1);
            // SIGTERM/SIGINT run shutdown hooks; the JVM exits once they return, so the hook does the graceful close.
            Runtime.getRuntime()
                    .addShutdownHook(new Thread(
                            () -> {
                                try {
                                    server.close();
                                } finally {
                                    stopped.countDown();
                                }
                            },
                            "torii-shutdown"));
            log.info("running; reload routes and upstreams with SIGHUP, stop with SIGTERM or Ctrl-C");
            boolean interrupted = false;
            while (true) {
                try {
                    stopped.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return 0;
        }
    }

    /** {@code torii check --config FILE}: validates a configuration without starting anything. */
    @Command(
            name = "check",
            mixinStandardHelpOptions = true,
            description = {
                "Validates a configuration file without starting anything.",
                "Prints 'FILE: ok' and exits 0 when it is valid; otherwise prints every problem as",
                "FILE:LINE:COLUMN: message on stderr and exits 1."
            })
    public static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(
                names = {"-c", "--config"},
                required = true,
                paramLabel = "FILE",
                description = "The configuration file (YAML).")
        Path config;

        /** Prints the verdict; returns 0 when valid, 1 otherwise. */
        @Override
        public Integer call() {
            try {
                ConfigLoader.load(config);
            } catch (ConfigException e) {
                report(spec.commandLine().getErr(), e);
                return 1;
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println(config + ": ok");
            out.flush();
            return 0;
        }
    }

    /** {@code torii version}: prints the version. */
    @Command(name = "version", mixinStandardHelpOptions = true, description = "Prints the version.")
    public static final class Version implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        /** Prints {@code torii VERSION (java VERSION)}. */
        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            out.println(versionLine());
            out.flush();
            return 0;
        }
    }

    /**
     * {@code torii train}, hidden: the training run of the JDK's AOT cache, made when the distribution is packaged
     * ({@code -XX:AOTCacheOutput}, JEP 483/514). It does what the first seconds of {@code run} do, through the same
     * code ({@link ConfigLoader#load(Path, java.util.function.Supplier)} on a file, then {@link ToriiServer#start}), so
     * that the classes and lambdas they load and link come from the cache afterwards: writes a configuration to a
     * temporary directory, starts a gateway, the demo echo service behind it and the admin API on free loopback ports,
     * proxies a few hundred HTTP/1.1 requests, scrapes the admin API, then closes everything.
     *
     * <p>The requests go over plain sockets, not the JDK's {@code HttpClient}: the cache preloads every class it holds
     * at start-up, and the client's (with its TLS stack) would only be dead weight there. With {@code --plugins} the
     * configuration attaches a small plugin too: the training run of the JIT's cache ({@code lib/torii-jit.aot}),
     * which {@code bin/torii} runs with the same JVMCI flags as a {@code run} with plugins.
     */
    @Command(name = "train", hidden = true, description = "Runs the AOT cache's training workload, then exits.")
    public static final class Train implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(
                names = "--requests",
                paramLabel = "N",
                defaultValue = "300",
                description = "Requests to proxy (default: ${DEFAULT-VALUE}).")
        int requests;

        @Option(names = "--plugins", description = "Attach a JavaScript plugin (the JIT cache's training).")
        boolean plugins;

        /** The training plugin: the API calls a typical plugin makes in each phase. */
        private static final String PLUGIN_JS = """
                export function onRequest(ex, cfg) {
                  const key = ex.request.headers.get("x-client") ?? ex.client.ip;
                  const n = torii.shared("train").incr(key, 1, { ttl: "1s" });
                  if (n > cfg.limit) return ex.respond(429, "slow down\\n");
                  ex.request.headers.set("x-train", String(n));
                }
                export function onResponse(ex, cfg) {
                  ex.response.headers.set("x-served-by", "torii");
                }
                """;

        private static final String PLUGIN_JSON = """
                { "name": "train", "version": "1.0.0", "description": "torii train's plugin",
                  "config": { "type": "object", "properties": { "limit": { "type": "number", "default": 1000000000 } } } }
                """;

        /** Runs the workload; returns 0, or 1 when the configuration is refused or most requests fail. */
        @Override
        public Integer call() throws Exception {
            Path dir = Files.createTempDirectory("torii-train");
            try (EchoService echo = EchoService.start("127.0.0.1", 0)) {
                String yaml = """
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:0" }
                        routes:
                          - match: { pathPrefix: "/" }
                            upstream: demo
                        upstreams:
                          demo: { endpoints: [ "127.0.0.1:%d" ] }
                        admin: { address: "127.0.0.1:0" }
                        """.formatted(echo.address().getPort());
                if (plugins) {
                    Path plugin = Files.createDirectories(dir.resolve("plugins/train"));
                    Files.writeString(plugin.resolve("plugin.js"), PLUGIN_JS);
                    Files.writeString(plugin.resolve("plugin.json"), PLUGIN_JSON);
                    yaml += """
                            plugins:
                              directory: plugins
                              watch: false
                              global:
                                - { name: train }
                            """;
                }
                Path file = Files.writeString(dir.resolve("torii.yaml"), yaml);
                CheckedScripts scripts = new CheckedScripts();
                ServerConfig cfg;
                try {
                    cfg = ConfigLoader.load(file, scripts);
                } catch (ConfigException e) {
                    scripts.close();
                    report(spec.commandLine().getErr(), e);
                    return 1;
                }
                int failed = 0;
                try (ToriiServer server = ToriiServer.start(cfg, file, scripts)) {
                    int web = server.gateway().address("web").getPort();
                    int admin = server.admin().orElseThrow().address().getPort();
                    for (int i = 0; i < requests; i++) {
                        String request = i % 2 == 0
                                ? "GET /train/" + i + " HTTP/1.1\r\nHost: train\r\nConnection: close\r\n\r\n"
                                : "POST /train HTTP/1.1\r\nHost: train\r\nConnection: close\r\nContent-Length: " + i
                                        + "\r\n\r\n" + "x".repeat(i);
                        String status = exchange(web, request);
                        if (!status.startsWith("HTTP/1.1 200 ")) {
                            // A plugin's first calls may pass their deadline on a busy build machine; the training is
                            // still good, a gateway that answers nothing right is not.
                            log.warn("train: request {} answered {}", i, status);
                            failed++;
                        }
                    }
                    if (failed > requests / 2) {
                        log.error("train: {} of {} requests not answered 200", failed, requests);
                        return 1;
                    }
                    for (String path : List.of("/healthz", "/readyz", "/metrics")) {
                        exchange(admin, "GET " + path + " HTTP/1.1\r\nHost: train\r\nConnection: close\r\n\r\n");
                    }
                }
            } finally {
                try (var files = Files.walk(dir)) {
                    for (Path p :
                            files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
            log.info("train: {} requests proxied{}", requests, plugins ? " through a plugin" : "");
            return 0;
        }

        /** Sends one request on a new loopback connection, reads the response to its end; returns its status line. */
        private static String exchange(int port, String request) throws IOException {
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
                socket.setSoTimeout(30_000);
                socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
                byte[] response = socket.getInputStream().readAllBytes();
                String text = new String(response, StandardCharsets.ISO_8859_1);
                int eol = text.indexOf("\r\n");
                return eol < 0 ? text : text.substring(0, eol);
            }
        }
    }

    /** Feeds {@code torii --version}. */
    public static final class VersionProvider implements CommandLine.IVersionProvider {
        /** The version line, as {@code torii version} prints it. */
        @Override
        public String[] getVersion() {
            return new String[] {versionLine()};
        }
    }

    private static String versionLine() {
        return "torii " + version() + " (java " + Runtime.version() + ")";
    }

    private static final Pattern BIND_FAILURE = Pattern.compile(
            "^(?:listener|DNS server) '([^']*)': cannot bind |^(admin): cannot bind |^(demo) echo service:");

    /**
     * The setting of {@code config} that holds the address a bind failure names ({@code listeners[0].address},
     * {@code admin.address}, {@code demo.echo}), or {@code null} when the message is not a bind failure.
     */
    static String bindSetting(Path config, String message) {
        Matcher m = BIND_FAILURE.matcher(message == null ? "" : message);
        if (!m.find()) {
            return null;
        }
        if (m.group(2) != null) {
            return "admin.address";
        }
        if (m.group(3) != null) {
            return "demo.echo";
        }
        String name = m.group(1);
        try {
            Object doc = new Load(LoadSettings.builder().build()).loadFromString(Files.readString(config));
            if (doc instanceof Map<?, ?> top && top.get("listeners") instanceof List<?> listeners) {
                for (int i = 0; i < listeners.size(); i++) {
                    if (listeners.get(i) instanceof Map<?, ?> l && name.equals(l.get("name"))) {
                        return "listeners[" + i + "].address";
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // The file was read a moment ago; if it changed since, the generic name below still helps.
        }
        return "the address of listener '" + name + "'";
    }

    private static void report(PrintWriter err, ConfigException e) {
        for (ConfigError error : e.errors()) {
            err.println(error);
        }
        err.flush();
    }
}
