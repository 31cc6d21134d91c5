package dev.torii.maintenance.internal;

import java.util.Locale;

/**
 * Decides between an HTML and a JSON page from an {@code Accept} header (RFC 9110 section 12.5.1), by the quality of
 * the best matching range for each. Stateless; thread-safe.
 */
public final class AcceptNegotiation {
    private AcceptNegotiation() {}

    /**
     * Whether {@code accept} prefers JSON over HTML: {@code application/json} (or a {@code +json} type) gets a higher
     * quality than {@code text/html}. No header, {@code *}{@code /*} or a tie: HTML (a browser's usual list names HTML
     * first and JSON never).
     */
    public static boolean prefersJson(String accept) {
        if (accept == null || accept.isBlank()) {
            return false;
        }
        double json = 0;
        double html = 0;
        int jsonSpecificity = -1;
        int htmlSpecificity = -1;
        for (String part : accept.split(",")) {
            String[] fields = part.split(";");
            String range = fields[0].strip().toLowerCase(Locale.ROOT);
            double q = 1.0;
            for (int i = 1; i < fields.length; i++) {
                String p = fields[i].strip();
                if (p.length() > 2 && (p.charAt(0) == 'q' || p.charAt(0) == 'Q') && p.charAt(1) == '=') {
                    try {
                        q = Double.parseDouble(p.substring(2));
                    } catch (NumberFormatException e) {
                        q = 0;
                    }
                }
            }
            int js = specificity(range, "application", "json");
            if (js > jsonSpecificity) {
                jsonSpecificity = js;
                json = q;
            }
            int hs = specificity(range, "text", "html");
            if (hs > htmlSpecificity) {
                htmlSpecificity = hs;
                html = q;
            }
        }
        return json > html;
    }

    /** 2 for an exact match, 1 for {@code type/*}, 0 for {@code *}{@code /*}, -1 for no match. */
    private static int specificity(String range, String type, String subtype) {
        if (range.equals(type + "/" + subtype) || (subtype.equals("json") && range.endsWith("+json"))) {
            return 2;
        }
        if (range.equals(type + "/*")) {
            return 1;
        }
        return range.equals("*/*") ? 0 : -1;
    }
}
