package dev.torii.script.internal;

/** Parses the durations scripts write: {@code "250ms"}, {@code "1s"}, {@code "5m"}, {@code "1h"}, {@code "1d"}, or a
 * number of seconds. Stateless. */
public final class Durations {
    private Durations() {}

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
