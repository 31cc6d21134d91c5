package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The three descriptions of torii.yaml agree, so none can drift: the reader (every {@code *KEYS} list of the section
 * readers, the lists {@code YamlReader.fields} checks a mapping's keys against, and {@link ConfigReader#SECTIONS}),
 * the JSON Schema for editors ({@code docs/schema/torii.schema.json}) and the reference
 * ({@code docs/configuration.md}, the first column of its key tables, with the dns section's table in
 * {@code docs/dns.md} that it links to). Top-level keys must agree exactly; below
 * that, every key name in one must be in the others. A failure lists each missing key and where it is missing.
 */
class ConfigSchemaAgreementTest {
    /** Values, not keys, that configuration.md lists in a first column (protocol tables). */
    private static final Set<String> DOC_VALUES = Set.of("h2", "h2c", "http1", "https");

    private static final Path ROOT = repositoryRoot();

    @Test
    void theReaderTheSchemaAndConfigurationMdNameTheSameKeys() throws Exception {
        Set<String> reader = readerKeys();
        Set<String> schema = new TreeSet<>();
        collectProperties(schemaDocument(), schema);
        Set<String> docs = docKeys();

        List<String> problems = new ArrayList<>();
        missing(problems, reader, "the reader", schema, "docs/schema/torii.schema.json");
        missing(problems, reader, "the reader", docs, "docs/configuration.md");
        missing(problems, schema, "the schema", reader, "the reader (a *KEYS list in dev.torii.server.internal)");
        missing(problems, docs, "configuration.md", reader, "the reader (a *KEYS list in dev.torii.server.internal)");
        assertThat(problems).as(String.join("\n", problems)).isEmpty();
    }

    @Test
    void theTopLevelSectionsAreTheSameInAllThree() throws Exception {
        Set<String> reader = new TreeSet<>();
        ConfigReader.SECTIONS.forEach(s -> reader.addAll(s.keys()));
        @SuppressWarnings("unchecked")
        Map<String, Object> properties = (Map<String, Object>) schemaDocument().get("properties");
        Set<String> schema = new TreeSet<>(properties.keySet());
        Set<String> docs = new TreeSet<>(tableKeys(section(configurationMd(), "## Top level")));

        List<String> problems = new ArrayList<>();
        missing(problems, reader, "ConfigReader.SECTIONS", schema, "the schema's top-level properties");
        missing(problems, schema, "the schema's top-level properties", reader, "ConfigReader.SECTIONS");
        missing(problems, reader, "ConfigReader.SECTIONS", docs, "configuration.md's 'Top level' table");
        missing(problems, docs, "configuration.md's 'Top level' table", reader, "ConfigReader.SECTIONS");
        assertThat(problems).as(String.join("\n", problems)).isEmpty();
    }

    @Test
    void theSchemaAcceptsNoUnknownTopLevelKeyAndRequiresListeners() throws Exception {
        Map<String, Object> schema = schemaDocument();
        assertThat(schema).containsEntry("additionalProperties", false);
        assertThat(schema.get("required")).isEqualTo(List.of("listeners"));
    }

    // ------------------------------------------------------------------ the three sources

    /** Every string of every static {@code List<String>} field named {@code ...KEYS} in this package. */
    static Set<String> readerKeys() throws IOException, ReflectiveOperationException {
        Set<String> keys = new TreeSet<>();
        Path classes = classesDirectory();
        List<Path> files;
        try (Stream<Path> s = Files.list(classes)) {
            files = s.filter(p -> p.toString().endsWith(".class")).toList();
        }
        for (Path file : files) {
            String name = file.getFileName().toString().replace(".class", "");
            Class<?> type = Class.forName(ConfigReader.class.getPackageName() + "." + name);
            for (Field f : type.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())
                        && List.class.isAssignableFrom(f.getType())
                        && f.getName().endsWith("KEYS")) {
                    f.setAccessible(true);
                    for (Object o : (List<?>) f.get(null)) {
                        if (o instanceof String s) {
                            keys.add(s);
                        }
                    }
                }
            }
        }
        ConfigReader.SECTIONS.forEach(s -> keys.addAll(s.keys()));
        return keys;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> schemaDocument() throws IOException {
        // JSON is YAML: the reader's own YAML library parses it.
        String text = Files.readString(ROOT.resolve("docs/schema/torii.schema.json"), StandardCharsets.UTF_8);
        return (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(text);
    }

    /** Every key of every {@code properties} object, at any depth (definitions included). */
    @SuppressWarnings("unchecked")
    private static void collectProperties(Object node, Set<String> into) {
        if (node instanceof Map<?, ?> m) {
            Object properties = m.get("properties");
            if (properties instanceof Map<?, ?> p) {
                p.keySet().forEach(k -> into.add(String.valueOf(k)));
            }
            ((Map<Object, Object>) m).values().forEach(v -> collectProperties(v, into));
        } else if (node instanceof List<?> l) {
            l.forEach(v -> collectProperties(v, into));
        }
    }

    private static Set<String> docKeys() throws IOException {
        Set<String> keys = new TreeSet<>(tableKeys(configurationMd()));
        // configuration.md hands the rest of the dns section to dns.md, which has its table.
        String dns = Files.readString(ROOT.resolve("docs/dns.md"), StandardCharsets.UTF_8);
        keys.addAll(tableKeys(section(dns, "## The `dns:` section in torii.yaml")));
        keys.removeAll(DOC_VALUES);
        return keys;
    }

    private static String configurationMd() throws IOException {
        return Files.readString(ROOT.resolve("docs/configuration.md"), StandardCharsets.UTF_8);
    }

    /** The text from {@code heading} to the next heading of the same or a higher level. */
    private static String section(String md, String heading) {
        int start = md.indexOf("\n" + heading + "\n");
        assertThat(start).as("configuration.md has '%s'", heading).isNotNegative();
        int end = md.indexOf("\n## ", start + heading.length() + 2);
        return md.substring(start, end < 0 ? md.length() : end);
    }

    /** The backquoted names in the first column of the key tables ({@code | `key` | ...}, also {@code `a`, `b`}). */
    private static Set<String> tableKeys(String md) {
        Set<String> keys = new LinkedHashSet<>();
        Pattern name = Pattern.compile("`([A-Za-z][A-Za-z0-9]*)`");
        for (String line : md.split("\n")) {
            if (!line.startsWith("| `")) {
                continue;
            }
            String first = line.substring(1, line.indexOf('|', 1));
            Matcher m = name.matcher(first);
            while (m.find()) {
                keys.add(m.group(1));
            }
        }
        return keys;
    }

    private static void missing(
            List<String> problems, Set<String> from, String fromName, Set<String> in, String inName) {
        Set<String> absent = new TreeSet<>(from);
        absent.removeAll(in);
        if (!absent.isEmpty()) {
            problems.add("in " + fromName + " but not in " + inName + ": " + absent);
        }
    }

    private static Path classesDirectory() {
        try {
            Path own = Path.of(ConfigReader.class
                    .getProtectionDomain()
                    .getCodeSource()
                    .getLocation()
                    .toURI());
            return own.resolve(ConfigReader.class.getPackageName().replace('.', '/'));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The repository root: the first directory up from the working directory that has docs/configuration.md. */
    private static Path repositoryRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.exists(p.resolve("docs/configuration.md"))) {
                return p;
            }
        }
        throw new IllegalStateException(
                "no docs/configuration.md above " + Path.of("").toAbsolutePath());
    }
}
