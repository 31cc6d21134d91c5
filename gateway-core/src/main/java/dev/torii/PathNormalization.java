package dev.torii;

/**
 * How a request's path is normalised once, before any hook and the route table see it, so that an access rule written
 * for {@code /admin} also holds for {@code /x/../admin}, {@code //admin} and {@code /%61dmin}. When {@link #enabled()},
 * the path has its RFC 3986 dot segments removed, its percent-encoded unreserved characters ({@code ALPHA DIGIT - . _
 * ~}) decoded and its other escapes upper-cased; a path that climbs above the root, or has an invalid escape, is
 * answered 400. The query is never touched. The normalised path is what the upstream receives. Immutable.
 *
 * @param enabled whether paths are normalised at all ({@code false}: forwarded as received, like Envoy's default)
 * @param mergeSlashes whether runs of {@code /} are merged into one (nginx's {@code merge_slashes on})
 * @param escapedSlashes what to do with {@code %2F} and {@code %5C} (and a raw backslash) in the path
 */
public record PathNormalization(boolean enabled, boolean mergeSlashes, EscapedSlashes escapedSlashes) {

    /** What happens to an encoded slash ({@code %2F}) or backslash ({@code %5C}, or a raw {@code \}) in a path. */
    public enum EscapedSlashes {
        /** Forwarded as received (escapes upper-cased); it does not separate segments (nginx's and Envoy's default). */
        KEEP,
        /** The request is answered 400. */
        REJECT,
        /** Decoded to {@code /} before dot segments are removed and slashes merged (Envoy's UNESCAPE_AND_FORWARD). */
        UNESCAPE,
        /**
         * Decoded as with {@link #UNESCAPE}; a request whose path normalisation changed in any way is then answered
         * {@code 308 Permanent Redirect} with the normalised path (and the query as received) in {@code Location},
         * instead of being routed (Envoy's UNESCAPE_AND_REDIRECT): the client, and its caches, see the one canonical
         * URL.
         */
        REDIRECT
    }

    public PathNormalization {
        if (escapedSlashes == null) {
            throw new IllegalArgumentException("escapedSlashes: null (expected: KEEP, REJECT, UNESCAPE or REDIRECT)");
        }
    }

    /** The default: enabled, slashes merged, encoded slashes kept. */
    public static PathNormalization defaults() {
        return new PathNormalization(true, true, EscapedSlashes.KEEP);
    }

    /** No normalisation: the path is routed, shown to hooks and forwarded exactly as the client sent it. */
    public static PathNormalization off() {
        return new PathNormalization(false, false, EscapedSlashes.KEEP);
    }
}
