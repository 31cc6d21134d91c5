package dev.torii.internal;

import java.util.Locale;

/**
 * JSON string quoting shared by every JSON writer of Torii's (the access log, the admin API, the script bridge), so
 * that they escape alike. Stateless and thread-safe.
 */
public final class JsonText {
    private JsonText() {}

    /** Appends {@code s} as a JSON string: quotes, backslashes and control characters (and DEL) escaped. */
    public static void quote(StringBuilder b, String s) {
        quote(b, s, false);
    }

    /**
     * Appends {@code s} as a JSON string; with {@code htmlSafe}, {@code <} is escaped too, so that the JSON can sit
     * inside an HTML page's script.
     */
    public static void quote(StringBuilder b, String s, boolean htmlSafe) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f || (htmlSafe && c == '<')) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
