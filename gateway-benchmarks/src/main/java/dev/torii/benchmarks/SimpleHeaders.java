package dev.torii.benchmarks;

import dev.torii.Headers;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A small {@link Headers} for benchmarks: names and values in two parallel lists, looked up by a linear scan, which is
 * what a request with a dozen headers costs in any real implementation too. Not thread-safe.
 */
final class SimpleHeaders implements Headers {
    private final List<String> names = new ArrayList<>();
    private final List<String> values = new ArrayList<>();

    /** Headers from alternating name, value arguments. */
    static SimpleHeaders of(String... nameValues) {
        if (nameValues.length % 2 != 0) {
            throw new IllegalArgumentException(
                    "nameValues: " + nameValues.length + " strings (expected: name, value pairs)");
        }
        var h = new SimpleHeaders();
        for (int i = 0; i < nameValues.length; i += 2) {
            h.add(nameValues[i], nameValues[i + 1]);
        }
        return h;
    }

    @Override
    public String get(String name) {
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                return values.get(i);
            }
        }
        return null;
    }

    @Override
    public List<String> getAll(String name) {
        var all = new ArrayList<String>(1);
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                all.add(values.get(i));
            }
        }
        return all;
    }

    @Override
    public boolean contains(String name) {
        return get(name) != null;
    }

    @Override
    public Headers set(String name, String value) {
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equalsIgnoreCase(name)) {
                values.set(i, value);
                for (int j = names.size() - 1; j > i; j--) {
                    if (names.get(j).equalsIgnoreCase(name)) {
                        names.remove(j);
                        values.remove(j);
                    }
                }
                return this;
            }
        }
        return add(name, value);
    }

    @Override
    public Headers add(String name, String value) {
        names.add(name.toLowerCase(Locale.ROOT));
        values.add(value);
        return this;
    }

    @Override
    public boolean remove(String name) {
        boolean any = false;
        for (int i = names.size() - 1; i >= 0; i--) {
            if (names.get(i).equalsIgnoreCase(name)) {
                names.remove(i);
                values.remove(i);
                any = true;
            }
        }
        return any;
    }

    @Override
    public Set<String> names() {
        return new LinkedHashSet<>(names);
    }

    @Override
    public int size() {
        return names.size();
    }
}
