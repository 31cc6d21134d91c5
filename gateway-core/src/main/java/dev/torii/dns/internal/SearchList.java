package dev.torii.dns.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * The names to try for a host name, as resolv.conf(5) defines them: a name ending in a dot is absolute and tried
 * alone; a name with at least {@code ndots} dots is tried as it is first, then with each search domain appended; a name
 * with fewer dots is tried with each search domain first and as it is last. Names are lower case without a final dot.
 */
public record SearchList(List<String> domains, int ndots) {
    /** Copies the domains (lower case, without final dots). */
    public SearchList {
        domains = List.copyOf(domains);
    }

    /** Whether {@code name} (already without a final dot) is tried as it is before any search domain. */
    public boolean asIsFirst(String name, boolean absolute) {
        return absolute || domains.isEmpty() || dots(name) >= ndots;
    }

    /** Every candidate for {@code name}, in the order to try them. */
    public List<String> candidates(String name, boolean absolute) {
        if (absolute || domains.isEmpty()) {
            return List.of(name);
        }
        List<String> out = new ArrayList<>(domains.size() + 1);
        boolean asIsFirst = dots(name) >= ndots;
        if (asIsFirst) {
            out.add(name);
        }
        for (String d : domains) {
            out.add(name + "." + d);
        }
        if (!asIsFirst) {
            out.add(name);
        }
        return out;
    }

    private static int dots(String name) {
        int n = 0;
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) == '.') {
                n++;
            }
        }
        return n;
    }
}
