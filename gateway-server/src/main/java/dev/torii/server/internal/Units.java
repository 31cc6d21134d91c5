package dev.torii.server.internal;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the durations ({@code 500ms}, {@code 10s}, {@code 5m}, {@code 1h}) and sizes ({@code 512}, {@code 8k},
 * {@code 1m}, {@code 1g}) used in configuration files.
 *
 * <p>Sizes are binary: {@code 1k} is 1024 bytes. A unit is required on durations because a bare {@code 30} is
 * ambiguous (seconds? milliseconds?) and guessing wrong is a silent misconfiguration.
 */
public final class Units {
    /** What a duration looks like, for messages. */
    public static final String DURATION_FORMAT = "a duration like 500ms, 10s, 5m or 1h";

    /** What a size looks like, for messages. */
    public static final String SIZE_FORMAT = "a size like 512, 8k, 1m or 1g";

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)");
    private static final Pattern SIZE = Pattern.compile("(\\d+)([kmg]?)");

    private Units() {}

    /**
     * Parses a duration with a unit.
     *
     * @throws IllegalArgumentException when {@code text} is not a duration (the message is {@link #DURATION_FORMAT})
     */
    public static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(DURATION_FORMAT);
        }
        long amount;
        try {
            amount = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(DURATION_FORMAT);
        }
        try {
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(amount);
                case "s" -> Duration.ofSeconds(amount);
                case "m" -> Duration.ofMinutes(amount);
                default -> Duration.ofHours(amount);
            };
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(DURATION_FORMAT);
        }
    }

    /**
     * Parses a size in bytes, with an optional binary unit ({@code k}, {@code m}, {@code g}).
     *
     * @throws IllegalArgumentException when {@code text} is not a size or does not fit in a long (the message is
     *     {@link #SIZE_FORMAT})
     */
    public static long parseSize(String text) {
        Matcher m = SIZE.matcher(text.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(SIZE_FORMAT);
        }
        int shift =
                switch (m.group(2)) {
                    case "k" -> 10;
                    case "m" -> 20;
                    case "g" -> 30;
                    default -> 0;
                };
        try {
            long amount = Long.parseLong(m.group(1));
            return Math.multiplyExact(amount, 1L << shift);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(SIZE_FORMAT);
        }
    }

    /** Writes {@code d} the way a configuration file would ({@code 1500ms}, {@code 10s}, {@code 5m}, {@code 1h}). */
    public static String format(Duration d) {
        if (d.toMillisPart() != 0 || d.toNanosPart() % 1_000_000 != 0) {
            return d.toMillis() + "ms";
        }
        long s = d.toSeconds();
        if (s != 0 && s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s != 0 && s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
