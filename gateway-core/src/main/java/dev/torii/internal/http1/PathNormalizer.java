package dev.torii.internal.http1;

import dev.torii.PathNormalization;
import dev.torii.PathNormalization.EscapedSlashes;
import java.util.ArrayList;
import java.util.List;

/**
 * Normalises the path of an origin-form request target as {@link PathNormalization} says. Pure and stateless:
 * thread-safe.
 *
 * <p>Order matters: escapes are decoded first (so {@code %2e%2e} is a dot segment and {@code %61dmin} is {@code
 * admin}), then slashes are merged, then dot segments removed; a {@code ..} with nothing left to remove is refused
 * rather than silently dropped as RFC 3986 section 5.2.4 would, because a client that sends it is probing.
 */
public final class PathNormalizer {
    private PathNormalizer() {}

    /** The outcome: the normalised target, or why it is refused. */
    public record Result(String target, String problem) {
        static Result ok(String target) {
            return new Result(target, null);
        }

        static Result refused(String problem) {
            return new Result(null, problem);
        }
    }

    /**
     * Whether {@code target}'s path (up to {@code end}) has nothing to normalise under any setting: no escape, no
     * backslash, no empty segment and no dot segment.
     */
    private static boolean alreadyNormal(String target, int end) {
        for (int i = 0; i < end; i++) {
            char c = target.charAt(i);
            if (c == '%' || c == '\\') {
                return false;
            }
            if (c == '/' && i + 1 < end) {
                char next = target.charAt(i + 1);
                if (next == '/') {
                    return false;
                }
                if (next == '.') {
                    int after = i + 2;
                    if (after == end || target.charAt(after) == '/') {
                        return false; // "/."
                    }
                    if (target.charAt(after) == '.' && (after + 1 == end || target.charAt(after + 1) == '/')) {
                        return false; // "/.."
                    }
                }
            }
        }
        return true;
    }

    /**
     * Normalises {@code target} (origin-form, starting with {@code /}; anything else is returned as is) and keeps its
     * query as received.
     */
    public static Result normalize(String target, PathNormalization settings) {
        if (!settings.enabled() || target.isEmpty() || target.charAt(0) != '/') {
            return Result.ok(target);
        }
        int q = target.indexOf('?');
        int pathEnd = q < 0 ? target.length() : q;
        if (alreadyNormal(target, pathEnd)) {
            return Result.ok(target); // most requests: no copy, no allocation
        }
        String path = q < 0 ? target : target.substring(0, q);
        String query = q < 0 ? "" : target.substring(q);
        StringBuilder decoded = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '\\') {
                String problem = slash(decoded, "\\", settings.escapedSlashes());
                if (problem != null) {
                    return Result.refused(problem);
                }
            } else if (c != '%') {
                decoded.append(c);
            } else {
                int hi = i + 2 < path.length() ? Character.digit(path.charAt(i + 1), 16) : -1;
                int lo = hi >= 0 ? Character.digit(path.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    return Result.refused("invalid percent-encoding in path '" + path + "'");
                }
                char v = (char) (hi * 16 + lo);
                i += 2;
                if (isUnreserved(v)) {
                    decoded.append(v);
                } else if (v == '/' || v == '\\') {
                    String problem = slash(decoded, v == '/' ? "%2F" : "%5C", settings.escapedSlashes());
                    if (problem != null) {
                        return Result.refused(problem);
                    }
                } else {
                    decoded.append('%')
                            .append(Character.toUpperCase(Character.forDigit(hi, 16)))
                            .append(Character.toUpperCase(Character.forDigit(lo, 16)));
                }
            }
        }
        String merged = settings.mergeSlashes() ? mergeSlashes(decoded) : decoded.toString();
        String normalized = removeDotSegments(merged);
        if (normalized == null) {
            return Result.refused("path '" + path + "' climbs above the root");
        }
        return Result.ok(normalized + query);
    }

    private static String slash(StringBuilder out, String asReceived, EscapedSlashes policy) {
        switch (policy) {
            case KEEP -> out.append(asReceived);
            case UNESCAPE, REDIRECT -> out.append('/');
            case REJECT -> {
                return "encoded slash or backslash '" + asReceived + "' in path";
            }
        }
        return null;
    }

    private static boolean isUnreserved(char c) {
        return (c >= 'a' && c <= 'z')
                || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9')
                || c == '-'
                || c == '.'
                || c == '_'
                || c == '~';
    }

    private static String mergeSlashes(CharSequence path) {
        StringBuilder out = new StringBuilder(path.length());
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c != '/' || out.isEmpty() || out.charAt(out.length() - 1) != '/') {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** RFC 3986 section 5.2.4 for an absolute path; {@code null} when a {@code ..} would climb above the root. */
    private static String removeDotSegments(String path) {
        String[] segments = path.substring(1).split("/", -1);
        List<String> out = new ArrayList<>(segments.length);
        for (int i = 0; i < segments.length; i++) {
            String s = segments[i];
            boolean last = i == segments.length - 1;
            if (s.equals(".")) {
                if (last) {
                    out.add("");
                }
            } else if (s.equals("..")) {
                if (out.isEmpty()) {
                    return null;
                }
                out.removeLast();
                if (last) {
                    out.add("");
                }
            } else {
                out.add(s);
            }
        }
        return "/" + String.join("/", out);
    }
}
