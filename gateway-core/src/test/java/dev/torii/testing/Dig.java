package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the real {@code dig} (Debian's dnsutils) against a server and reads what it printed: the status, the header
 * flags, and the records of each section. Fails, never skips, when dig is missing.
 */
public final class Dig {
    private static final Pattern STATUS = Pattern.compile("status: ([A-Z]+)");
    private static final Pattern FLAGS = Pattern.compile(";; flags: ([a-z ]*);");

    private Dig() {}

    /** What one dig run printed. */
    public record Result(String output, int exitCode) {
        /** The response's rcode mnemonic (NOERROR, NXDOMAIN, ...), or null when no response came. */
        public String status() {
            Matcher m = STATUS.matcher(output);
            String last = null;
            while (m.find()) {
                last = m.group(1);
            }
            return last;
        }

        /** The header flags of the last response printed ({@code qr rd ra}, ...). */
        public List<String> flags() {
            Matcher m = FLAGS.matcher(output);
            String last = null;
            while (m.find()) {
                last = m.group(1);
            }
            return last == null ? List.of() : List.of(last.strip().split(" +"));
        }

        /** The records of a section (ANSWER, AUTHORITY, QUESTION) of the last response, one whitespace-normalised line each. */
        public List<String> section(String name) {
            List<String> out = new ArrayList<>();
            String[] lines = output.split("\n");
            boolean in = false;
            for (String line : lines) {
                if (line.startsWith(";; " + name + " SECTION:")) {
                    out.clear(); // the last response's section wins (after a retry over TCP)
                    in = true;
                    continue;
                }
                if (in) {
                    if (line.isBlank() || line.startsWith(";;")) {
                        in = false;
                        continue;
                    }
                    out.add(line.strip().replaceAll("\\s+", " "));
                }
            }
            return out;
        }

        /** Whether no server answered (dig timed out). */
        public boolean timedOut() {
            return output.contains("timed out") && status() == null;
        }
    }

    /** Runs {@code dig @server -p port +time=2 +tries=1 ARGS...} and waits for it (at most 30 s). */
    public static Result query(InetSocketAddress server, String... args) {
        String dig = ExternalProcesses.find("dig", "dnsutils", "DNS server tests");
        List<String> command = new ArrayList<>(List.of(
                dig,
                "@" + server.getAddress().getHostAddress(),
                "-p",
                String.valueOf(server.getPort()),
                "+time=2",
                "+tries=1"));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("dig did not finish: " + command);
            }
            return new Result(new String(out, StandardCharsets.UTF_8), p.exitValue());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
