package dev.torii.server.admin;

import dev.torii.internal.JsonText;
import java.util.Collection;
import java.util.Map;

/**
 * Writes the admin API's JSON from plain values: {@code Map} (keys as strings, in iteration order), {@code Collection},
 * {@code Number}, {@code Boolean}, {@code null} and anything else as its {@code toString()}. Non-finite numbers become
 * {@code null}. Stateless; thread-safe.
 */
public final class Json {
    private Json() {}

    /** {@code value} as JSON text. */
    public static String write(Object value) {
        StringBuilder b = new StringBuilder(256);
        write(b, value);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v) {
        switch (v) {
            case null -> b.append("null");
            case Map<?, ?> m -> {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    string(b, String.valueOf(e.getKey()));
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            }
            case Collection<?> c -> {
                b.append('[');
                boolean first = true;
                for (Object o : c) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    write(b, o);
                }
                b.append(']');
            }
            case Double d when d.isNaN() || d.isInfinite() -> b.append("null");
            case Float f when f.isNaN() || f.isInfinite() -> b.append("null");
            case Number n -> b.append(n);
            case Boolean x -> b.append(x);
            default -> string(b, v.toString());
        }
    }

    private static void string(StringBuilder b, String s) {
        JsonText.quote(b, s, true); // safe inside an HTML page too
    }
}
