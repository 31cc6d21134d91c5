package dev.torii.script.internal;

import java.time.Duration;
import java.util.function.Supplier;

/** Parses the durations scripts write: {@code "250ms"}, {@code "1s"}, {@code "5m"}, {@code "1h"}, {@code "1d"}, or a
 * number of seconds. Stateless. */
public final class Durations {
    private Durations() {}

    /**
     * Remembers the last duration text parsed and its value: scripts pass the same literal ({@code {ttl: "1s"}}) on
     * every call, and parsing it each time showed in profiles. Confined to one thread (a context's).
     */
    static final class Memo {
        private String text;
        private long nanos;
        private Duration duration;

        /** {@link #parseNanos(String, String)}, from the memo when {@code text} is the last one parsed. */
        long nanos(String what, String text) {
            if (text != null && text.equals(this.text)) {
                return nanos;
            }
            long n = parseNanos(what, text);
            this.text = text;
            this.nanos = n;
            this.duration = null;
            return n;
        }

        /** {@link #nanos} as a {@link Duration}; {@code what} is computed only for an error message. */
        Duration duration(Supplier<String> what, String text) {
            if (duration != null && text.equals(this.text)) {
                return duration;
            }
            if (!text.equals(this.text)) {
                nanos(what.get(), text);
            }
            duration = Duration.ofNanos(nanos);
            return duration;
        }
    }

    /**
     * The duration in nanoseconds.
     *
     * @param what names the argument in the message, e.g. {@code ex.limit per}
     * @throws IllegalArgumentException for a malformed, negative or too large duration
     */
    public static long parseNanos(String what, String text) {
        if (text == null) {
            throw new IllegalArgumentException(what + ": null (expected: a duration such as \"1s\" or \"250ms\")");
        }
        String s = text.strip();
        long unit;
        String number;
        if (s.endsWith("ms")) {
            unit = 1_000_000L;
            number = s.substring(0, s.length() - 2);
        } else if (s.endsWith("s")) {
            unit = 1_000_000_000L;
            number = s.substring(0, s.length() - 1);
        } else if (s.endsWith("m")) {
            unit = 60_000_000_000L;
            number = s.substring(0, s.length() - 1);
        } else if (s.endsWith("h")) {
            unit = 3_600_000_000_000L;
            number = s.substring(0, s.length() - 1);
        } else if (s.endsWith("d")) {
            unit = 86_400_000_000_000L;
            number = s.substring(0, s.length() - 1);
        } else {
            unit = 1_000_000_000L;
            number = s;
        }
        double n;
        try {
            n = Double.parseDouble(number);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    what + ": \"" + text + "\" (expected: a duration such as \"1s\", \"250ms\", \"5m\" or seconds)");
        }
        double nanos = n * unit;
        if (!(nanos >= 0) || nanos > 365 * 86_400e9) {
            throw new IllegalArgumentException(what + ": \"" + text + "\" (expected: between 0 and 365d)");
        }
        return (long) nanos;
    }
}
