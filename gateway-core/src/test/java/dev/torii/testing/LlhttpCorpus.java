package dev.torii.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads the request test cases of llhttp, the HTTP/1.x parser of Node.js, from the Markdown files copied into
 * {@code shared/corpus/llhttp} (see its README).
 *
 * <p>Each case is a heading, an optional {@code <!-- meta={...} -->} comment, an {@code http} block with the input
 * and a {@code log} block with what llhttp reported. The input is decoded the way llhttp's {@code test/md-test.ts}
 * does: drop the last newline, drop backslash-escaped newlines, turn every remaining newline into CRLF, then replace
 * {@code \r \n \t \f \xHH} and octal {@code \NNN} escapes; the result is sent as UTF-8 (so {@code \xff} is two bytes,
 * as the log's offsets confirm). Each log line {@code off=N ...} becomes an {@link Event}; a span's bytes are taken
 * from the input by offset and length rather than from the quoted text in the log.
 *
 * <p>Thread-safe (stateless).
 */
public final class LlhttpCorpus {
    private static final Pattern HEADING = Pattern.compile("^#{1,6}\\s+(.*?)\\s*$");
    private static final Pattern META = Pattern.compile("<!--\\s*meta=(\\{.*?})\\s*-->");
    private static final Pattern META_ENTRY =
            Pattern.compile("\"(\\w+)\"\\s*:\\s*(\"((?:[^\"\\\\]|\\\\.)*)\"|true|false|-?\\d+)");
    private static final Pattern LOG_LINE = Pattern.compile("^off=(\\d+|NULL) (.*)$");
    private static final Pattern SPAN = Pattern.compile("^len=(\\d+) span\\[(\\w+)]=\"(.*)\"$");
    private static final Pattern HEADERS_COMPLETE =
            Pattern.compile("^headers complete method=(\\d+) v=(\\d+)/(\\d+) flags=([0-9a-f]+) content_length=(\\d+)$");
    private static final Pattern CHUNK_HEADER = Pattern.compile("^chunk header len=(\\d+)$");
    private static final Pattern ERROR = Pattern.compile("^error code=(\\d+) reason=\"(.*)\"$");

    private LlhttpCorpus() {}

    /**
     * The corpus directory: the system property {@code torii.llhttp.corpus} if set, else {@code ../shared/corpus/llhttp}
     * beside the repository root, which is the nearest directory at or above the working directory that holds
     * {@code mvnw}. Fails with a message naming where it looked.
     */
    public static Path locate() {
        String override = System.getProperty("torii.llhttp.corpus");
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override).toAbsolutePath().normalize();
            if (!Files.isDirectory(p.resolve("request"))) {
                throw new IllegalStateException(
                        "torii.llhttp.corpus=" + override + " has no request/ directory (expected: the llhttp corpus)");
            }
            return p;
        }
        Path start = Path.of("").toAbsolutePath();
        Path root = start;
        while (root != null && !Files.isRegularFile(root.resolve("mvnw"))) {
            root = root.getParent();
        }
        if (root == null) {
            throw new IllegalStateException("no repository root (a directory holding mvnw) at or above " + start
                    + "; set -Dtorii.llhttp.corpus=DIR to the llhttp corpus");
        }
        Path corpus = root.resolveSibling("shared").resolve("corpus").resolve("llhttp");
        if (!Files.isDirectory(corpus.resolve("request"))) {
            throw new IllegalStateException("the llhttp corpus is missing: expected " + corpus.normalize()
                    + "/request/*.md (the shared/ directory checked out beside the repository root " + root
                    + "), or set -Dtorii.llhttp.corpus=DIR");
        }
        return corpus.normalize();
    }

    /** Every case of every {@code request/*.md} file under {@code corpus}, file by file in name order. */
    public static List<Case> requestCases(Path corpus) {
        try (Stream<Path> files = Files.list(corpus.resolve("request"))) {
            var cases = new ArrayList<Case>();
            for (Path f :
                    files.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
                cases.addAll(parse(f.getFileName().toString(), Files.readString(f, StandardCharsets.UTF_8)));
            }
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException("reading the llhttp corpus at " + corpus, e);
        }
    }

    /** The cases in one Markdown file. */
    public static List<Case> parse(String file, String markdown) {
        String[] lines = markdown.split("\n", -1);
        var cases = new ArrayList<Case>();
        String heading = null;
        Map<String, String> meta = Map.of();
        String input = null;
        int inputLine = 0;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.startsWith("```")) {
                String info = line.substring(3).strip();
                var body = new StringBuilder();
                int j = i + 1;
                while (j < lines.length && !lines[j].startsWith("```")) {
                    body.append(lines[j]).append('\n');
                    j++;
                }
                if (j == lines.length) {
                    throw new IllegalArgumentException(file + ":" + (i + 1) + ": unterminated code block");
                }
                if (info.equals("http")) {
                    if (input != null) {
                        throw new IllegalArgumentException(file + ":" + (i + 1) + ": two http blocks in '" + heading
                                + "' (expected: http, then log)");
                    }
                    input = body.toString();
                    inputLine = i + 1;
                } else if (info.equals("log")) {
                    if (input == null) {
                        throw new IllegalArgumentException(
                                file + ":" + (i + 1) + ": log block without an http block in '" + heading + "'");
                    }
                    List<String> log = body.isEmpty()
                            ? List.of()
                            : List.of(body.substring(0, body.length() - 1).split("\n", -1));
                    cases.add(new Case(file, inputLine, heading, meta, decodeInput(input), log));
                    input = null;
                    meta = Map.of();
                }
                i = j;
                continue;
            }
            Matcher h = HEADING.matcher(line);
            if (h.matches()) {
                heading = h.group(1);
                meta = Map.of();
                continue;
            }
            Matcher m = META.matcher(line);
            if (m.find()) {
                meta = parseMeta(m.group(1));
            }
        }
        return cases;
    }

    /** Decodes an {@code http} block into the bytes llhttp was fed (see the class comment). */
    public static byte[] decodeInput(String block) {
        String s = block.endsWith("\n") ? block.substring(0, block.length() - 1) : block;
        s = s.replaceAll("\\\\(\r\n|\r|\n)", "");
        s = s.replaceAll("\r\n|\r|\n", "\r\n");
        s = s.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t").replace("\\f", "\f");
        s = replaceAll(s, Pattern.compile("\\\\x([0-9a-fA-F]+)"), g -> Character.toString(Integer.parseInt(g, 16)));
        s = replaceAll(s, Pattern.compile("\\\\([0-7]{1,3})"), g -> Character.toString(Integer.parseInt(g, 8)));
        if (s.contains("${")) {
            throw new IllegalArgumentException("inline JavaScript in a case is not supported: " + s);
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String replaceAll(String s, Pattern p, java.util.function.Function<String, String> f) {
        Matcher m = p.matcher(s);
        var sb = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(sb, Matcher.quoteReplacement(f.apply(m.group(1))));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static Map<String, String> parseMeta(String json) {
        var meta = new LinkedHashMap<String, String>();
        Matcher m = META_ENTRY.matcher(json);
        while (m.find()) {
            meta.put(m.group(1), m.group(3) != null ? m.group(3) : m.group(2));
        }
        return Map.copyOf(meta);
    }

    /** What llhttp reported at one offset. */
    public sealed interface Event {
        int offset();
    }

    /** {@code message begin}. */
    public record MessageBegin(int offset) implements Event {}

    /** A span of the input: method, url, protocol, version, header_field, header_value, body, chunk_extension_*. */
    public record Span(int offset, String kind, int length, String logged) implements Event {}

    /** {@code headers complete}: {@code flags} are llhttp's F_* bits, e.g. 0x2 close, 0x8 chunked, 0x20 length. */
    public record HeadersComplete(int offset, int major, int minor, int flags, long contentLength) implements Event {}

    /** {@code chunk header len=N}. */
    public record ChunkHeader(int offset, int length) implements Event {}

    /** {@code chunk complete}. */
    public record ChunkComplete(int offset) implements Event {}

    /** {@code message complete}. */
    public record MessageComplete(int offset) implements Event {}

    /** {@code error code=N reason="..."}; codes 22 and 23 are llhttp pausing on CONNECT/Upgrade and PRI. */
    public record Error(int offset, int code, String reason) implements Event {}

    /** Any other line: {@code method complete}, {@code reset}, {@code url complete}, ... */
    public record Other(int offset, String text) implements Event {}

    /**
     * One case.
     *
     * @param file the Markdown file name, e.g. {@code transfer-encoding.md}
     * @param line the 1-based line of its {@code http} block
     * @param heading the nearest heading above it
     * @param meta the meta comment's entries ({@code type}, {@code noScan}, {@code pause}, ...) as strings
     * @param input the bytes llhttp was fed
     * @param log the lines of its {@code log} block
     */
    public record Case(
            String file, int line, String heading, Map<String, String> meta, byte[] input, List<String> log) {

        /** {@code file:line heading}, unique in the corpus. */
        public String id() {
            return file + ":" + line + " " + heading;
        }

        /** The meta {@code type}: {@code request}, {@code request-lenient-headers}, ... */
        public String type() {
            return meta.getOrDefault("type", "");
        }

        /** Whether llhttp accepts this only with a lenient flag, so a strict proxy must reject it. */
        public boolean lenient() {
            return type().startsWith("request-lenient");
        }

        /** The log as events. Fails on a line it does not understand. */
        public List<Event> events() {
            var events = new ArrayList<Event>();
            for (String l : log) {
                if (l.isBlank()) {
                    continue;
                }
                Matcher m = LOG_LINE.matcher(l);
                if (!m.matches()) {
                    throw new IllegalArgumentException(id() + ": log line not understood: " + l);
                }
                int off = m.group(1).equals("NULL") ? -1 : Integer.parseInt(m.group(1));
                String rest = m.group(2);
                Matcher x;
                if (rest.equals("message begin")) {
                    events.add(new MessageBegin(off));
                } else if (rest.equals("message complete")) {
                    events.add(new MessageComplete(off));
                } else if (rest.equals("chunk complete")) {
                    events.add(new ChunkComplete(off));
                } else if ((x = SPAN.matcher(rest)).matches()) {
                    events.add(new Span(off, x.group(2), Integer.parseInt(x.group(1)), x.group(3)));
                } else if ((x = HEADERS_COMPLETE.matcher(rest)).matches()) {
                    events.add(new HeadersComplete(
                            off,
                            Integer.parseInt(x.group(2)),
                            Integer.parseInt(x.group(3)),
                            Integer.parseInt(x.group(4), 16),
                            Long.parseLong(x.group(5))));
                } else if ((x = CHUNK_HEADER.matcher(rest)).matches()) {
                    events.add(new ChunkHeader(off, Integer.parseInt(x.group(1))));
                } else if ((x = ERROR.matcher(rest)).matches()) {
                    events.add(new Error(off, Integer.parseInt(x.group(1)), x.group(2)));
                } else {
                    events.add(new Other(off, rest));
                }
            }
            return events;
        }

        /** The input bytes of {@code span}. */
        public byte[] bytes(Span span) {
            return Arrays.copyOfRange(input, span.offset(), span.offset() + span.length());
        }

        /** The error llhttp stopped with, or {@code null}. */
        public Error error() {
            return events().stream()
                    .filter(e -> e instanceof Error)
                    .map(e -> (Error) e)
                    .findFirst()
                    .orElse(null);
        }

        @Override
        public String toString() {
            return id();
        }
    }
}
