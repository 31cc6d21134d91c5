package dev.torii.script.internal;

import dev.torii.internal.JsonText;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader that remembers where each value started, so that a manifest or schema problem can be reported
 * as {@code FILE:LINE:COLUMN}, and a writer for configuration values. Values are {@code null}, {@link Boolean},
 * {@link Long} (integral numbers), {@link Double}, {@link String}, {@link List} and {@link Map} (insertion-ordered).
 *
 * <p>Stateless; thread-safe.
 */
public final class Json {
    private Json() {}

    /** A parsed document: the root value and the position of every container and value in it. */
    public record Document(String file, Object root, Map<Object, int[]> positions) {
        /** {@code FILE:LINE:COLUMN} of {@code value} (an object, array or string of this document), else {@code FILE}. */
        public String where(Object value) {
            int[] p = value == null ? null : positions.get(value);
            return p == null ? file : file + ":" + p[0] + ":" + p[1];
        }
    }

    /** Thrown for malformed JSON; the message starts with {@code FILE:LINE:COLUMN}. */
    public static final class ParseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ParseException(String message) {
            super(message);
        }
    }

    /** Parses {@code text}; {@code file} is used in positions and messages. */
    public static Document parse(String file, String text) {
        var p = new Parser(file, text);
        p.skipWs();
        Object root = p.value();
        p.skipWs();
        if (p.i < text.length()) {
            throw p.error("unexpected '" + text.charAt(p.i) + "' after the document (expected: end of file)");
        }
        return new Document(file, root, Collections.unmodifiableMap(p.positions));
    }

    private static final class Parser {
        final String file;
        final String s;
        int i;
        int line = 1;
        int lineStart;
        // Identity: two equal strings at different places keep their own positions.
        final Map<Object, int[]> positions = new IdentityHashMap<>();

        Parser(String file, String s) {
            this.file = file;
            this.s = s;
        }

        ParseException error(String message) {
            return new ParseException(file + ":" + line + ":" + (i - lineStart + 1) + ": " + message);
        }

        void skipWs() {
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == '\n') {
                    line++;
                    lineStart = i + 1;
                } else if (c != ' ' && c != '\t' && c != '\r') {
                    return;
                }
                i++;
            }
        }

        Object value() {
            if (i >= s.length()) {
                throw error("unexpected end of file (expected: a value)");
            }
            int[] at = {line, i - lineStart + 1};
            char c = s.charAt(i);
            Object v =
                    switch (c) {
                        case '{' -> object();
                        case '[' -> array();
                        case '"' -> new String(string()); // a fresh instance so that its position is its own
                        case 't' -> literal("true", Boolean.TRUE);
                        case 'f' -> literal("false", Boolean.FALSE);
                        case 'n' -> literal("null", null);
                        default -> number();
                    };
            // Boxed numbers and booleans may be shared instances, so only containers and strings get a position.
            if (v instanceof Map || v instanceof List || v instanceof String) {
                positions.put(v, at);
            }
            return v;
        }

        Object literal(String word, Object v) {
            if (!s.startsWith(word, i)) {
                throw error("unexpected '" + s.charAt(i) + "' (expected: a value)");
            }
            i += word.length();
            return v;
        }

        Object number() {
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            String n = s.substring(start, i);
            if (n.isEmpty()) {
                throw error("unexpected '" + s.charAt(i) + "' (expected: a value)");
            }
            try {
                var d = new BigDecimal(n);
                if (n.indexOf('.') < 0 && n.indexOf('e') < 0 && n.indexOf('E') < 0) {
                    return d.longValueExact();
                }
                return d.doubleValue();
            } catch (ArithmeticException | NumberFormatException e) {
                i = start;
                throw error("'" + n + "' (expected: a number)");
            }
        }

        String string() {
            i++; // opening quote
            var b = new StringBuilder();
            while (true) {
                if (i >= s.length()) {
                    throw error("unterminated string (expected: '\"')");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c == '\n') {
                    throw error("line break in a string (expected: '\\n')");
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (i >= s.length()) {
                    throw error("unterminated escape");
                }
                char e = s.charAt(i++);
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (i + 4 > s.length()) {
                            throw error("short \\u escape (expected: 4 hex digits)");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        } catch (NumberFormatException x) {
                            throw error("'\\u" + s.substring(i, i + 4) + "' (expected: 4 hex digits)");
                        }
                        i += 4;
                    }
                    default -> throw error("'\\" + e + "' (expected: one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)");
                }
            }
        }

        Map<String, Object> object() {
            i++;
            var m = new LinkedHashMap<String, Object>();
            skipWs();
            if (i < s.length() && s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                skipWs();
                if (i >= s.length() || s.charAt(i) != '"') {
                    throw error("expected a member name in quotes");
                }
                String key = string();
                skipWs();
                if (i >= s.length() || s.charAt(i) != ':') {
                    throw error("expected ':' after \"" + key + "\"");
                }
                i++;
                skipWs();
                if (m.containsKey(key)) {
                    throw error("\"" + key + "\" appears twice (expected: unique member names)");
                }
                m.put(key, value());
                skipWs();
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                if (i < s.length() && s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                throw error("expected ',' or '}'");
            }
        }

        List<Object> array() {
            i++;
            var l = new ArrayList<Object>();
            skipWs();
            if (i < s.length() && s.charAt(i) == ']') {
                i++;
                return l;
            }
            while (true) {
                skipWs();
                l.add(value());
                skipWs();
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                if (i < s.length() && s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                throw error("expected ',' or ']'");
            }
        }
    }

    /** Writes a value made of the types listed in the class comment (any {@link Number}, any {@link Map}). */
    public static String write(Object value) {
        var b = new StringBuilder();
        write(b, value);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v) {
        switch (v) {
            case null -> b.append("null");
            case Boolean x -> b.append(x);
            case Double d
            when d.isNaN() || d.isInfinite() ->
                throw new IllegalArgumentException("value: " + d + " (expected: a finite number)");
            case Float f
            when f.isNaN() || f.isInfinite() ->
                throw new IllegalArgumentException("value: " + f + " (expected: a finite number)");
            case Number n -> b.append(n);
            case CharSequence cs -> quote(b, cs.toString());
            case Map<?, ?> m -> {
                b.append('{');
                boolean first = true;
                for (var e : m.entrySet()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    quote(b, String.valueOf(e.getKey()));
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            }
            case List<?> l -> {
                b.append('[');
                for (int k = 0; k < l.size(); k++) {
                    if (k > 0) {
                        b.append(',');
                    }
                    write(b, l.get(k));
                }
                b.append(']');
            }
            default ->
                throw new IllegalArgumentException("value of type "
                        + v.getClass().getName() + " (expected: null, boolean, number, string, list or map)");
        }
    }

    static void quote(StringBuilder b, String s) {
        JsonText.quote(b, s);
    }
}
