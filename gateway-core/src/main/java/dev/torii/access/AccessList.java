package dev.torii.access;

import dev.torii.internal.Cidr;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One scope's allow and deny blocks (CIDR, or single addresses). A client is refused when its address falls in a deny
 * block, or when there are allow blocks and it falls in none of them: deny wins over allow, and an empty list lets
 * everyone in. Blocks may also come from a {@link #file() file} (one {@code allow CIDR} or {@code deny CIDR} per line,
 * {@code #} comments), which {@link AccessControl} reloads when it changes. Immutable.
 *
 * @param allow the blocks let in (empty: everyone not denied)
 * @param deny the blocks refused
 * @param file a file whose blocks are added to these, if any
 */
public record AccessList(List<String> allow, List<String> deny, Optional<Path> file) {
    public AccessList {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        Objects.requireNonNull(file, "file");
        check("allow", allow);
        check("deny", deny);
    }

    /** A list that lets everyone in. */
    public static AccessList open() {
        return new AccessList(List.of(), List.of(), Optional.empty());
    }

    /** A list with these blocks and no file. */
    public static AccessList of(List<String> allow, List<String> deny) {
        return new AccessList(allow, deny, Optional.empty());
    }

    /** This list with {@code file}'s blocks added (the file is read by {@link AccessControl}). */
    public AccessList withFile(Path file) {
        return new AccessList(allow, deny, Optional.of(file));
    }

    /** Whether the list refuses nobody and has no file. */
    public boolean isOpen() {
        return allow.isEmpty() && deny.isEmpty() && file.isEmpty();
    }

    private static void check(String what, List<String> blocks) {
        for (String b : blocks) {
            try {
                Cidr.parse(Objects.requireNonNull(b, what));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "access " + what + ": '" + b + "' (expected: a CIDR block like 10.0.0.0/8 or an address)");
            }
        }
    }

    /**
     * The blocks of a list file: lines {@code allow CIDR} or {@code deny CIDR}; blank lines and {@code #} comments are
     * skipped.
     *
     * @throws IllegalArgumentException naming the line number and the line when one is not of that form
     */
    public static AccessList parseFile(Path file, List<String> lines) {
        var allow = new ArrayList<String>();
        var deny = new ArrayList<String>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            String s = (hash >= 0 ? line.substring(0, hash) : line).strip();
            if (s.isEmpty()) {
                continue;
            }
            String[] words = s.split("\\s+");
            boolean ok = words.length == 2 && (words[0].equals("allow") || words[0].equals("deny"));
            if (ok) {
                try {
                    Cidr.parse(words[1]);
                } catch (IllegalArgumentException e) {
                    ok = false;
                }
            }
            if (!ok) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": '" + line.strip()
                        + "' (expected: allow CIDR or deny CIDR, e.g. deny 192.0.2.0/24)");
            }
            (words[0].equals("allow") ? allow : deny).add(words[1]);
        }
        return new AccessList(allow, deny, Optional.empty());
    }

    /** This list's blocks, parsed, with {@code extra}'s added (a file's); for {@link AccessControl}. */
    Compiled compile(AccessList extra) {
        var a = new ArrayList<>(Cidr.parseAll(allow));
        var d = new ArrayList<>(Cidr.parseAll(deny));
        if (extra != null) {
            a.addAll(Cidr.parseAll(extra.allow));
            d.addAll(Cidr.parseAll(extra.deny));
        }
        return new Compiled(List.copyOf(a), List.copyOf(d));
    }

    /** Parsed blocks, ready to check addresses against. */
    record Compiled(List<Cidr> allow, List<Cidr> deny) {
        static final Compiled OPEN = new Compiled(List.of(), List.of());

        boolean permits(InetAddress address) {
            if (Cidr.anyContains(deny, address)) {
                return false;
            }
            return allow.isEmpty() || Cidr.anyContains(allow, address);
        }
    }
}
