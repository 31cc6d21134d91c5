package dev.torii.server.internal;

import dev.torii.server.config.ConfigError;
import dev.torii.server.config.ConfigException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Reads values out of a composed YAML node tree and records every problem at its line and column, so that the
 * caller can keep walking after a bad value and report all of them at the end.
 *
 * <p>Each reader returns {@code null} when the value is unusable, after recording why; callers skip whatever depends
 * on it. {@code path} arguments name the setting in messages ({@code upstreams.app.endpoints[1]}).
 *
 * <p>Not thread-safe; one instance reads one file.
 */
final class YamlReader {
    /** {@code ${NAME}}, {@code ${NAME:-default}} or the escape <code>$${</code>; group 1 is the escape. */
    private static final Pattern REFERENCE = Pattern.compile("(\\$\\$\\{)|\\$\\{([^}]*)}?");

    private static final Pattern VARIABLE = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private final String source;
    private final List<ConfigError> errors = new ArrayList<>();
    private final Function<String, String> environment;

    YamlReader(String source) {
        this(source, System::getenv);
    }

    /** A reader whose {@code ${NAME}} references read {@code environment} (tests pass a map's {@code get}). */
    YamlReader(String source, Function<String, String> environment) {
        this.source = Objects.requireNonNull(source, "source");
        this.environment = Objects.requireNonNull(environment, "environment");
    }

    /**
     * Parses {@code text} into its node tree (core schema, marks kept).
     *
     * @param expected what the document should be, for the message when it is empty
     * @throws ConfigException on a syntax error or an empty document
     */
    Node compose(String text, String expected) throws ConfigException {
        Optional<Node> document;
        try {
            LoadSettings settings = LoadSettings.builder()
                    .setLabel(source)
                    .setSchema(new CoreSchema())
                    .build();
            document = new Compose(settings).composeString(text);
        } catch (MarkedYamlEngineException e) {
            Mark mark = e.getProblemMark().or(e::getContextMark).orElse(null);
            String problem = e.getProblem() != null ? e.getProblem() : e.getContext();
            errors.add(
                    mark == null
                            ? new ConfigError(source, 1, 1, "invalid YAML: " + problem)
                            : new ConfigError(
                                    source, mark.getLine() + 1, mark.getColumn() + 1, "invalid YAML: " + problem));
            throw failure();
        } catch (YamlEngineException e) {
            errors.add(new ConfigError(source, 1, 1, "invalid YAML: " + e.getMessage()));
            throw failure();
        }
        if (document.isEmpty()) {
            errors.add(new ConfigError(source, 1, 1, "empty configuration (expected: " + expected + ")"));
            throw failure();
        }
        return substitute(document.get(), Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    /**
     * {@code node} with every {@code ${NAME}} and {@code ${NAME:-default}} in its scalar values replaced from the
     * environment (the default applies when the variable is unset or empty, as in the shell); {@code $${} stands for
     * a literal <code>${</code>. A plain scalar's type is resolved again after substitution, so {@code port: ${PORT}} is an
     * integer; quoted ones stay strings. Keys are not substituted. A variable that is unset without a default, or a
     * malformed reference, is an error at the reference's position; the value then stays as written.
     */
    private Node substitute(Node node, Set<Node> seen) {
        if (!seen.add(node)) {
            return node; // an alias: already done
        }
        switch (node) {
            case MappingNode m -> {
                List<NodeTuple> tuples = new ArrayList<>(m.getValue().size());
                for (NodeTuple t : m.getValue()) {
                    tuples.add(new NodeTuple(t.getKeyNode(), substitute(t.getValueNode(), seen)));
                }
                m.setValue(tuples);
                return m;
            }
            case SequenceNode q -> {
                List<Node> items = q.getValue();
                for (int i = 0; i < items.size(); i++) {
                    items.set(i, substitute(items.get(i), seen));
                }
                return q;
            }
            case ScalarNode s
            when s.getValue().indexOf('$') >= 0 -> {
                String value = expand(s);
                if (value == null || value.equals(s.getValue())) {
                    return s;
                }
                Tag tag = s.isPlain() ? new CoreSchema().getScalarResolver().resolve(value, true) : s.getTag();
                return new ScalarNode(tag, true, value, s.getScalarStyle(), s.getStartMark(), s.getEndMark());
            }
            default -> {
                return node;
            }
        }
    }

    /** {@code s}'s value with its references replaced, or null when one of them is an error (recorded). */
    private String expand(ScalarNode s) {
        String text = s.getValue();
        Matcher m = REFERENCE.matcher(text);
        StringBuilder out = new StringBuilder(text.length());
        boolean failed = false;
        while (m.find()) {
            if (m.group(1) != null) {
                m.appendReplacement(out, "\\$\\{");
                continue;
            }
            String ref = m.group();
            String body = m.group(2);
            int sep = body.indexOf(":-");
            String name = sep < 0 ? body : body.substring(0, sep);
            if (!ref.endsWith("}") || !VARIABLE.matcher(name).matches()) {
                referenceError(
                        s, m.start(), "'" + ref + "' (expected: ${NAME} or ${NAME:-default}, or $${ for a literal ${)");
                failed = true;
                continue;
            }
            String value = environment.apply(name);
            if (value == null || value.isEmpty()) {
                if (sep < 0) {
                    referenceError(
                            s,
                            m.start(),
                            "${" + name + "}: environment variable " + name + " is not set (expected: set, or a"
                                    + " default as ${" + name + ":-default})");
                    failed = true;
                    continue;
                }
                value = body.substring(sep + 2);
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return failed ? null : out.toString();
    }

    /**
     * Records {@code message} at the reference starting at {@code offset} in {@code s}'s value: exact on one-line
     * plain and quoted scalars (escapes before it in a double-quoted one aside), at the value's start otherwise.
     */
    private void referenceError(ScalarNode s, int offset, String message) {
        Mark mark = s.getStartMark().orElse(null);
        if (mark == null) {
            errors.add(new ConfigError(source, 1, 1, message));
            return;
        }
        int column = mark.getColumn() + 1;
        boolean oneLine = s.getStartMark().get().getLine()
                == s.getEndMark().map(Mark::getLine).orElse(-1);
        switch (s.getScalarStyle()) {
            case PLAIN -> column += oneLine ? offset : 0;
            case SINGLE_QUOTED, DOUBLE_QUOTED -> column += oneLine ? offset + 1 : 0;
            default -> {
                // block scalars: the value's own start is close enough
            }
        }
        errors.add(new ConfigError(source, mark.getLine() + 1, column, message));
    }

    /** How many problems have been recorded so far; compare before and after reading a part to see if it failed. */
    int errorCount() {
        return errors.size();
    }

    /** Every problem recorded, sorted by position, as an exception to throw. */
    ConfigException failure() {
        Collections.sort(errors);
        return new ConfigException(errors);
    }

    /** The entries of a mapping whose keys are fixed, in file order, and where it is. */
    record Fields(Node node, String path, Map<String, NodeTuple> entries) {
        Node value(String key) {
            NodeTuple t = entries.get(key);
            return t == null ? null : t.getValueNode();
        }

        String path(String key) {
            return child(path, key);
        }
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /**
     * Reads a mapping with fixed keys: unknown keys are errors (with a suggestion when one is close), and keys of
     * later features are errors saying so. Returns {@code null} when {@code node} is not a mapping.
     */
    Fields fields(Node node, String path, List<String> keys, List<String> later) {
        Map<String, NodeTuple> all = mapping(node, path.isEmpty() ? "configuration" : path);
        if (all == null) {
            return null;
        }
        Map<String, NodeTuple> known = new LinkedHashMap<>();
        all.forEach((key, tuple) -> {
            if (keys.contains(key)) {
                known.put(key, tuple);
            } else if (later.contains(key)) {
                error(tuple.getKeyNode(), child(path, key) + ": not supported yet");
            } else {
                String where = path.isEmpty() ? "configuration" : path;
                String suggestion = closest(key, keys);
                error(
                        tuple.getKeyNode(),
                        where + ": unknown key '" + key + "' ("
                                + (suggestion != null
                                        ? "did you mean '" + suggestion + "'?"
                                        : "expected one of: " + String.join(", ", keys))
                                + ")");
            }
        });
        return new Fields(node, path, known);
    }

    /** A mapping's entries by key, in file order; duplicate and non-string keys are errors. */
    Map<String, NodeTuple> mapping(Node node, String path) {
        if (!(node instanceof MappingNode m)) {
            error(node, path + ": " + show(node) + " (expected: a mapping)");
            return null;
        }
        Map<String, NodeTuple> entries = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode k) || Tag.NULL.equals(k.getTag())) {
                error(t.getKeyNode(), path + ": key " + show(t.getKeyNode()) + " (expected: a name)");
                continue;
            }
            NodeTuple first = entries.putIfAbsent(k.getValue(), t);
            if (first != null) {
                error(
                        k,
                        path + ": duplicate key '" + k.getValue() + "' (first at line " + line(first.getKeyNode())
                                + ")");
            }
        }
        return entries;
    }

    List<Node> sequence(Node node, String path) {
        if (node instanceof SequenceNode s) {
            return s.getValue();
        }
        error(node, path + ": " + show(node) + " (expected: a list)");
        return null;
    }

    String string(Node node, String path) {
        if (node instanceof ScalarNode s && !Tag.NULL.equals(s.getTag())) {
            return s.getValue();
        }
        error(node, path + ": " + show(node) + " (expected: a string)");
        return null;
    }

    String nonBlank(Node node, String path, String expected) {
        String s = string(node, path);
        if (s != null && s.isBlank()) {
            error(node, path + ": '" + s + "' (expected: " + expected + ")");
            return null;
        }
        return s;
    }

    String requiredString(Fields f, String key) {
        Node n = f.value(key);
        if (n == null) {
            error(f.node(), f.path() + ": missing key '" + key + "'");
            return null;
        }
        return nonBlank(n, f.path(key), "a non-empty " + key);
    }

    Boolean bool(Node node, String path) {
        if (node instanceof ScalarNode s && Tag.BOOL.equals(s.getTag())) {
            return Boolean.parseBoolean(s.getValue().toLowerCase(Locale.ROOT));
        }
        error(node, path + ": " + show(node) + " (expected: true or false)");
        return null;
    }

    Long integer(Node node, String path, long min, long max) {
        if (node instanceof ScalarNode s && Tag.INT.equals(s.getTag())) {
            long v;
            try {
                v = Long.parseLong(s.getValue());
            } catch (NumberFormatException e) {
                error(node, path + ": " + show(node) + " (expected: a decimal integer)");
                return null;
            }
            return inRange(node, path, s.getValue(), v, min, max);
        }
        error(node, path + ": " + show(node) + " (expected: an integer)");
        return null;
    }

    Long size(Node node, String path, long min, long max) {
        if (!(node instanceof ScalarNode s) || Tag.NULL.equals(node.getTag())) {
            error(node, path + ": " + show(node) + " (expected: " + Units.SIZE_FORMAT + ")");
            return null;
        }
        try {
            return inRange(node, path, s.getValue(), Units.parseSize(s.getValue()), min, max);
        } catch (IllegalArgumentException e) {
            error(node, path + ": " + show(node) + " (expected: " + Units.SIZE_FORMAT + ")");
            return null;
        }
    }

    private Long inRange(Node node, String path, String text, long v, long min, long max) {
        if (v < min) {
            error(node, path + ": " + text + " (expected: " + (min == 1 ? "> 0" : ">= " + min) + ")");
            return null;
        }
        if (v > max) {
            error(node, path + ": " + text + " (expected: at most " + max + ")");
            return null;
        }
        return v;
    }

    Duration duration(Node node, String path, boolean zeroAllowed) {
        if (!(node instanceof ScalarNode s) || Tag.NULL.equals(node.getTag())) {
            error(node, path + ": " + show(node) + " (expected: " + Units.DURATION_FORMAT + ")");
            return null;
        }
        Duration d;
        try {
            d = Units.parseDuration(s.getValue());
        } catch (IllegalArgumentException e) {
            error(node, path + ": " + show(node) + " (expected: " + Units.DURATION_FORMAT + ")");
            return null;
        }
        if (d.isZero() && !zeroAllowed) {
            error(node, path + ": " + s.getValue() + " (expected: > 0)");
            return null;
        }
        return d;
    }

    /** Reads {@code key} if present and valid, and hands it to {@code setter}; the builder keeps its default else. */
    <T> void set(Fields f, String key, Reader<T> reader, Consumer<T> setter) {
        Node n = f.value(key);
        if (n != null) {
            T v = reader.read(n, f.path(key));
            if (v != null) {
                setter.accept(v);
            }
        }
    }

    <T> T valueOr(Fields f, String key, Reader<T> reader, T fallback) {
        Node n = f.value(key);
        if (n == null) {
            return fallback;
        }
        T v = reader.read(n, f.path(key));
        return v == null ? fallback : v;
    }

    /** Reads one value, recording an error and returning {@code null} when it is not valid. */
    @FunctionalInterface
    interface Reader<T> {
        T read(Node node, String path);
    }

    /** Runs a gateway-core constructor on one value; its refusal becomes an error at {@code node}. */
    boolean probe(Node node, String path, Runnable check) {
        try {
            check.run();
            return true;
        } catch (IllegalArgumentException e) {
            error(node, relabel(path, e.getMessage()));
            return false;
        }
    }

    /**
     * What {@code build} makes from the settings read into it: {@code null} when errors were reported since
     * {@code before} (the settings are incomplete), or when the builder refuses them (reported at {@code f} by
     * {@link #builderError}).
     */
    <T> T build(Fields f, int before, java.util.function.Supplier<T> build) {
        if (errorCount() != before) {
            return null;
        }
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            builderError(f, e);
            return null;
        }
    }

    /** A builder's refusal, reported at the first setting of {@code f} its message names, else at {@code f}. */
    void builderError(Fields f, IllegalArgumentException e) {
        String message = Objects.toString(e.getMessage(), e.toString());
        Node at = f.node();
        String path = f.path().isEmpty() ? "configuration" : f.path();
        for (var entry : f.entries().entrySet()) {
            if (Pattern.compile("\\b" + Pattern.quote(entry.getKey()) + "\\b")
                    .matcher(message)
                    .find()) {
                at = entry.getValue().getValueNode();
                path = f.path(entry.getKey());
                break;
            }
        }
        error(at, relabel(path, message));
    }

    /**
     * Puts {@code path} in front of a gateway-core message, dropping the words of the message's own label that the
     * path already says: {@code endpoint port: 99999 (expected: 1-65535)} at {@code upstreams.app.endpoints[1]}
     * becomes {@code upstreams.app.endpoints[1]: port 99999 (expected: 1-65535)}. Quoted names in the label go too,
     * since the path locates the item.
     */
    static String relabel(String path, String message) {
        int colon = message.indexOf(": ");
        String label = colon < 0 ? "" : message.substring(0, colon);
        if (colon < 0 || label.contains("(") || label.contains(":")) {
            return path + ": " + message;
        }
        List<String> segments = Arrays.stream(path.split("\\."))
                .map(seg -> seg.replaceAll("\\[\\d+]$", "").toLowerCase(Locale.ROOT))
                .toList();
        List<String> kept = new ArrayList<>();
        for (String word : label.split(" ")) {
            String w = word.toLowerCase(Locale.ROOT);
            boolean quoted = w.length() >= 2 && w.startsWith("'") && w.endsWith("'");
            if (!quoted && !w.isEmpty() && segments.stream().noneMatch(seg -> seg.startsWith(w))) {
                kept.add(word);
            }
        }
        String rest = message.substring(colon + 2);
        return path + ": " + (kept.isEmpty() ? rest : String.join(" ", kept) + " " + rest);
    }

    /** Records a problem located elsewhere, e.g. in a plugin's own files. */
    void error(ConfigError error) {
        errors.add(error);
    }

    void error(Node node, String message) {
        Mark mark = node.getStartMark().orElse(null);
        errors.add(
                mark == null
                        ? new ConfigError(source, 1, 1, message)
                        : new ConfigError(source, mark.getLine() + 1, mark.getColumn() + 1, message));
    }

    private static int line(Node node) {
        return node.getStartMark().map(m -> m.getLine() + 1).orElse(1);
    }

    /** A value as it appears in a message: numbers and booleans bare, text quoted, collections by kind. */
    private static String show(Node node) {
        if (node instanceof ScalarNode s) {
            Tag tag = s.getTag();
            if (Tag.NULL.equals(tag)) {
                return "null";
            }
            if (s.isPlain() && (Tag.INT.equals(tag) || Tag.FLOAT.equals(tag) || Tag.BOOL.equals(tag))) {
                return s.getValue();
            }
            return "'" + s.getValue() + "'";
        }
        return node instanceof SequenceNode ? "a list" : "a mapping";
    }

    /** The key closest to {@code key} when it is a likely typo (same letters in another case, or 1-2 edits away). */
    static String closest(String key, List<String> keys) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : keys) {
            int d = k.equalsIgnoreCase(key)
                    ? 0
                    : editDistance(k.toLowerCase(Locale.ROOT), key.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        int allowed = key.length() <= 4 ? 1 : key.length() <= 8 ? 2 : 3;
        return bestDistance <= allowed ? best : null;
    }

    private static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
