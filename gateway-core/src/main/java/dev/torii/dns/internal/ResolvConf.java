package dev.torii.dns.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a resolv.conf(5) says that the cache uses: name servers (IP literals, port 53), the search list ({@code search}
 * or, when absent, {@code domain}), and the options {@code ndots}, {@code timeout} and {@code attempts}. Unknown lines
 * and options are ignored, as the C library does; {@code null} and -1 mean "not set".
 */
public record ResolvConf(
        List<InetSocketAddress> nameservers, List<String> search, int ndots, int timeoutSeconds, int attempts) {

    /** Reads the text of a resolv.conf. */
    public static ResolvConf parse(String text) {
        List<InetSocketAddress> servers = new ArrayList<>();
        List<String> search = null;
        List<String> domain = null;
        int ndots = -1;
        int timeout = -1;
        int attempts = -1;
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            String[] words = line.split("\\s+");
            switch (words[0]) {
                case "nameserver" -> {
                    if (words.length > 1) {
                        try {
                            servers.add(new InetSocketAddress(InetAddress.ofLiteral(words[1]), 53));
                        } catch (IllegalArgumentException e) {
                            // glibc skips what it cannot parse; so do we.
                        }
                    }
                }
                case "search" -> search = domains(words);
                case "domain" -> domain = domains(words);
                case "options" -> {
                    for (int i = 1; i < words.length; i++) {
                        String w = words[i];
                        if (w.startsWith("ndots:")) {
                            ndots = Math.min(15, number(w, ndots));
                        } else if (w.startsWith("timeout:")) {
                            timeout = Math.min(30, number(w, timeout));
                        } else if (w.startsWith("attempts:")) {
                            attempts = Math.min(5, number(w, attempts));
                        }
                    }
                }
                default -> {}
            }
        }
        List<String> list = search != null ? search : domain != null ? domain : List.of();
        return new ResolvConf(List.copyOf(servers), list, ndots, timeout, attempts);
    }

    private static List<String> domains(String[] words) {
        List<String> out = new ArrayList<>();
        for (int i = 1; i < words.length; i++) {
            out.add(words[i].toLowerCase(Locale.ROOT));
        }
        return out;
    }

    private static int number(String option, int fallback) {
        try {
            return Math.max(0, Integer.parseInt(option.substring(option.indexOf(':') + 1)));
        } catch (NumberFormatException e) {
            return fallback;
        }
    }
}
