package dev.torii.script.internal;

import dev.torii.script.ConfigProblem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The subset of JSON Schema that plugin manifests use for their {@code config}: {@code type} (one of {@code object},
 * {@code string}, {@code number}, {@code integer}, {@code boolean}, {@code array}), {@code properties},
 * {@code required}, {@code additionalProperties} (boolean), {@code items}, {@code default}, {@code minimum},
 * {@code maximum}, {@code enum}, and the annotations {@code description}, {@code title} and {@code examples}. Any
 * other keyword is refused when the plugin loads, so that a schema never silently checks less than its author
 * thought.
 *
 * <p>Immutable; thread-safe.
 */
public final class ConfigSchema {
    private static final Set<String> KEYWORDS = Set.of(
            "type",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "default",
            "minimum",
            "maximum",
            "enum",
            "description",
            "title",
            "examples",
            "$schema");
    private static final Set<String> TYPES = Set.of("object", "string", "number", "integer", "boolean", "array");

    private final Map<String, Object> root;

    private ConfigSchema(Map<String, Object> root) {
        this.root = root;
    }

    /** A schema already checked by {@link #compile} (as held by a loaded {@link dev.torii.script.Plugin}). */
    public static ConfigSchema checked(Map<String, Object> schema) {
        return new ConfigSchema(schema);
    }

    /** A schema that accepts any object and adds nothing (a plugin without {@code config}). */
    public static ConfigSchema empty() {
        return new ConfigSchema(Map.of("type", "object"));
    }

    /**
     * Checks {@code schema} (the {@code config} member of {@code doc}) and compiles it.
     *
     * @throws IllegalArgumentException naming {@code FILE:LINE:COLUMN} of the first unsupported or malformed part
     */
    @SuppressWarnings("unchecked")
    public static ConfigSchema compile(Json.Document doc, Object schema) {
        if (!(schema instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(doc.where(schema) + ": config: " + describe(schema)
                    + " (expected: a JSON Schema object with \"type\": \"object\")");
        }
        check(doc, (Map<String, Object>) m, "config");
        if (!"object".equals(m.get("type"))) {
            throw new IllegalArgumentException(
                    doc.where(m) + ": config.type: " + describe(m.get("type")) + " (expected: \"object\")");
        }
        return new ConfigSchema((Map<String, Object>) m);
    }

    @SuppressWarnings("unchecked")
    private static void check(Json.Document doc, Map<String, Object> s, String path) {
        for (String k : s.keySet()) {
            if (!KEYWORDS.contains(k)) {
                throw new IllegalArgumentException(doc.where(s) + ": " + path + ": unsupported keyword \"" + k
                        + "\" (expected one of: " + String.join(", ", new java.util.TreeSet<>(KEYWORDS)) + ")");
            }
        }
        Object type = s.get("type");
        if (!(type instanceof String t) || !TYPES.contains(t)) {
            throw new IllegalArgumentException(doc.where(s) + ": " + path + ".type: " + describe(type)
                    + " (expected one of: " + String.join(", ", new java.util.TreeSet<>(TYPES)) + ")");
        }
        for (String bound : List.of("minimum", "maximum")) {
            if (s.containsKey(bound) && !(s.get(bound) instanceof Number)) {
                throw new IllegalArgumentException(doc.where(s) + ": " + path + "." + bound + ": "
                        + describe(s.get(bound)) + " (expected: a number)");
            }
        }
        if (s.containsKey("enum") && !(s.get("enum") instanceof List<?> l && !l.isEmpty())) {
            throw new IllegalArgumentException(doc.where(s) + ": " + path + ".enum: " + describe(s.get("enum"))
                    + " (expected: a non-empty array)");
        }
        if (s.containsKey("additionalProperties") && !(s.get("additionalProperties") instanceof Boolean)) {
            throw new IllegalArgumentException(doc.where(s) + ": " + path + ".additionalProperties: "
                    + describe(s.get("additionalProperties")) + " (expected: true or false)");
        }
        Object props = s.get("properties");
        if (props != null) {
            if (!(props instanceof Map<?, ?> pm)) {
                throw new IllegalArgumentException(doc.where(s) + ": " + path + ".properties: " + describe(props)
                        + " (expected: an object of schemas)");
            }
            for (var e : pm.entrySet()) {
                if (!(e.getValue() instanceof Map<?, ?> child)) {
                    throw new IllegalArgumentException(doc.where(pm) + ": " + path + "." + e.getKey() + ": "
                            + describe(e.getValue()) + " (expected: a schema object)");
                }
                check(doc, (Map<String, Object>) child, path + "." + e.getKey());
            }
        }
        Object required = s.get("required");
        if (required != null) {
            if (!(required instanceof List<?> rl) || !rl.stream().allMatch(String.class::isInstance)) {
                throw new IllegalArgumentException(doc.where(required) + ": " + path + ".required: "
                        + describe(required) + " (expected: an array of property names)");
            }
        }
        Object items = s.get("items");
        if (items != null) {
            if (!(items instanceof Map<?, ?> im)) {
                throw new IllegalArgumentException(
                        doc.where(s) + ": " + path + ".items: " + describe(items) + " (expected: a schema object)");
            }
            check(doc, (Map<String, Object>) im, path + "[]");
        }
        if (s.containsKey("default")) {
            var problems = new ArrayList<ConfigProblem>();
            validate(s, s.get("default"), path + ".default", problems);
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException(doc.where(s) + ": " + problems.getFirst());
            }
        }
    }

    /**
     * Validates {@code config} and returns a copy with defaults filled in.
     *
     * @return the completed config (maps and lists are fresh, ordered copies)
     * @throws IllegalArgumentException listing every problem, one per line, each as {@code config.PATH: VALUE
     *     (expected: ...)}
     */
    public Map<String, Object> apply(Map<String, ?> config) {
        var problems = new ArrayList<ConfigProblem>();
        Map<String, Object> out = complete(config, problems);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join(
                    "\n", problems.stream().map(ConfigProblem::toString).toList()));
        }
        return out;
    }

    /** Every problem of {@code config}, in document order; empty when it is valid. */
    public List<ConfigProblem> problems(Map<String, ?> config) {
        var problems = new ArrayList<ConfigProblem>();
        complete(config, problems);
        return List.copyOf(problems);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> complete(Map<String, ?> config, List<ConfigProblem> problems) {
        return (Map<String, Object>) validate(root, config == null ? Map.of() : config, "config", problems);
    }

    @SuppressWarnings("unchecked")
    private static Object validate(Map<String, Object> s, Object v, String path, List<ConfigProblem> problems) {
        String type = (String) s.get("type");
        boolean ok =
                switch (type) {
                    case "object" -> v instanceof Map;
                    case "array" -> v instanceof List;
                    case "string" -> v instanceof String;
                    case "boolean" -> v instanceof Boolean;
                    case "number" -> v instanceof Number n && Double.isFinite(n.doubleValue());
                    case "integer" -> isIntegral(v);
                    default -> false;
                };
        if (!ok) {
            problems.add(new ConfigProblem(
                    path, describe(v) + " (expected: " + ("integer".equals(type) ? "an integer" : type) + ")"));
            return v;
        }
        if (s.get("enum") instanceof List<?> allowed && allowed.stream().noneMatch(a -> same(a, v))) {
            problems.add(new ConfigProblem(
                    path,
                    describe(v) + " (expected one of: "
                            + String.join(
                                    ", ",
                                    allowed.stream().map(ConfigSchema::describe).toList()) + ")"));
        }
        if (v instanceof Number n) {
            if (s.get("minimum") instanceof Number min && n.doubleValue() < min.doubleValue()) {
                problems.add(new ConfigProblem(path, describe(v) + " (expected: >= " + min + ")"));
            }
            if (s.get("maximum") instanceof Number max && n.doubleValue() > max.doubleValue()) {
                problems.add(new ConfigProblem(path, describe(v) + " (expected: <= " + max + ")"));
            }
            return "integer".equals(type) ? (Object) n.longValue() : (Object) n;
        }
        if (v instanceof List<?> list) {
            var copy = new ArrayList<Object>(list.size());
            var items = (Map<String, Object>) s.get("items");
            for (int i = 0; i < list.size(); i++) {
                copy.add(items == null ? list.get(i) : validate(items, list.get(i), path + "[" + i + "]", problems));
            }
            return copy;
        }
        if (v instanceof Map<?, ?> map) {
            var props = (Map<String, Object>) s.getOrDefault("properties", Map.of());
            var copy = new LinkedHashMap<String, Object>();
            for (var e : map.entrySet()) {
                String key = String.valueOf(e.getKey());
                var child = (Map<String, Object>) props.get(key);
                if (child == null) {
                    if (Boolean.FALSE.equals(s.get("additionalProperties"))) {
                        problems.add(new ConfigProblem(
                                path + "." + key,
                                "unknown property (expected one of: " + String.join(", ", props.keySet()) + ")"));
                    }
                    copy.put(key, e.getValue());
                } else {
                    copy.put(key, validate(child, e.getValue(), path + "." + key, problems));
                }
            }
            for (var e : props.entrySet()) {
                var child = (Map<String, Object>) e.getValue();
                if (!copy.containsKey(e.getKey()) && child.containsKey("default")) {
                    copy.put(e.getKey(), validate(child, child.get("default"), path + "." + e.getKey(), problems));
                }
            }
            if (s.get("required") instanceof List<?> required) {
                for (Object r : required) {
                    if (!copy.containsKey((String) r)) {
                        problems.add(new ConfigProblem(
                                path + "." + r, "missing (expected: a " + describeType(props.get(r)) + ")"));
                    }
                }
            }
            return copy;
        }
        return v;
    }

    private static boolean isIntegral(Object v) {
        return switch (v) {
            case Long l -> true;
            case Integer i -> true;
            case Short sh -> true;
            case Byte by -> true;
            case Double d -> d == Math.rint(d) && Math.abs(d) < 9.007199254740992E15;
            case Float f -> f == Math.rint(f);
            default -> false;
        };
    }

    private static boolean same(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y) {
            return x.doubleValue() == y.doubleValue();
        }
        return java.util.Objects.equals(a, b);
    }

    @SuppressWarnings("unchecked")
    private static String describeType(Object schema) {
        return schema instanceof Map<?, ?> m ? String.valueOf(((Map<String, Object>) m).get("type")) : "value";
    }

    /** A value as it would appear in JSON, shortened, for messages. */
    static String describe(Object v) {
        if (v == null) {
            return "null";
        }
        String s;
        try {
            s = Json.write(v instanceof Map || v instanceof List || v instanceof String ? v : v);
        } catch (IllegalArgumentException e) {
            s = String.valueOf(v);
        }
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
