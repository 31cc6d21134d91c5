package dev.torii.server.internal;

import dev.torii.dns.DnsCache;
import dev.torii.server.config.DnsSettings;
import dev.torii.server.config.DnsTuning;
import dev.torii.server.internal.YamlReader.Fields;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * The {@code dns:} section of a {@code torii.yaml}: every setting of the DNS cache, its forward {@code zones} and a
 * {@code resolvConf} import, each value checked where it is written and the whole combination checked by building (and
 * at once closing) the cache, so that {@code torii check} reports every problem at its {@code FILE:LINE:COLUMN}. The
 * keys are {@link #SECTION_KEYS} and, in each zone, {@link #ZONE_KEYS}; docs/dns.md lists the same (a test compares).
 *
 * <p>Not thread-safe; one instance reads one file.
 */
final class DnsSectionReader {
    /** The keys a forward zone may set; the section accepts them too, for names outside every zone. */
    static final List<String> ZONE_KEYS = List.of(
            "upstreams",
            "forceTcp",
            "attempts",
            "queryTimeout",
            "retryBackoff",
            "staleClientTimeout",
            "staleFor",
            "staleAnswerTtl",
            "minTtl",
            "maxTtl",
            "maxNegativeTtl",
            "failureTtl",
            "refreshAheadAt");

    /** Every key of the {@code dns:} section. */
    static final List<String> SECTION_KEYS = Stream.concat(
                    ZONE_KEYS.stream(),
                    Stream.of(
                            "resolvConf",
                            "maxEntries",
                            "maxInFlight",
                            "queueLimit",
                            "searchList",
                            "ndots",
                            "ednsPayloadSize",
                            "zones"))
            .toList();

    private final YamlReader yaml;
    private final Path baseDirectory;

    DnsSectionReader(YamlReader yaml, Path baseDirectory) {
        this.yaml = yaml;
        this.baseDirectory = baseDirectory;
    }

    /** The section's settings, or empty when it is absent or has errors (recorded). */
    Optional<DnsSettings> read(Node node) {
        if (node == null) {
            return Optional.empty();
        }
        Fields f = yaml.fields(node, "dns", SECTION_KEYS, List.of());
        if (f == null) {
            return Optional.empty();
        }
        int before = yaml.errorCount();
        Optional<Path> resolvConf = Optional.empty();
        Node confNode = f.value("resolvConf");
        if (confNode != null) {
            String file = yaml.nonBlank(confNode, f.path("resolvConf"), "a resolv.conf file");
            if (file != null) {
                Path path = baseDirectory == null ? Path.of(file) : baseDirectory.resolve(file);
                if (Files.isReadable(path)) {
                    resolvConf = Optional.of(path);
                } else {
                    yaml.error(confNode, f.path("resolvConf") + ": " + file + " (expected: a readable resolv.conf)");
                }
            }
        }
        DnsTuning tuning = tuning(f);
        if (tuning != null && tuning.upstreams().isEmpty() && f.value("upstreams") == null && confNode == null) {
            yaml.error(
                    f.node(),
                    // Worded as before resolvConf existed: the common case (docs/dns.md lists resolvConf).
                    f.path("upstreams") + ": missing (expected: DNS servers as IP:port, e.g. [ \"10.96.0.10:53\" ])");
        }
        Long maxEntries = yaml.valueOr(f, "maxEntries", (n, p) -> yaml.integer(n, p, 1, Long.MAX_VALUE), null);
        Integer maxInFlight = intOrNull(f, "maxInFlight", 1, Integer.MAX_VALUE);
        Integer queueLimit = intOrNull(f, "queueLimit", 0, Integer.MAX_VALUE);
        Integer ndots = intOrNull(f, "ndots", 0, 15);
        Integer edns = intOrNull(f, "ednsPayloadSize", 0, 65_535);
        List<String> searchList = null;
        Node searchNode = f.value("searchList");
        if (searchNode != null) {
            List<Node> items = yaml.sequence(searchNode, f.path("searchList"));
            searchList = new ArrayList<>();
            for (int i = 0; items != null && i < items.size(); i++) {
                String d = yaml.nonBlank(items.get(i), f.path("searchList") + "[" + i + "]", "a domain name");
                if (d != null) {
                    searchList.add(d);
                }
            }
        }
        Map<String, DnsTuning> zones = new LinkedHashMap<>();
        Map<String, Fields> zoneFields = new LinkedHashMap<>();
        Node zonesNode = f.value("zones");
        if (zonesNode != null) {
            Map<String, NodeTuple> entries = yaml.mapping(zonesNode, f.path("zones"));
            if (entries != null) {
                entries.forEach((name, tuple) -> {
                    String zone = normalize(name);
                    String path = f.path("zones") + "." + zone;
                    if (zoneFields.containsKey(zone)) {
                        yaml.error(tuple.getKeyNode(), path + ": given twice (expected: one entry per zone)");
                        return;
                    }
                    Fields zf = yaml.fields(tuple.getValueNode(), path, ZONE_KEYS, List.of());
                    if (zf == null) {
                        return;
                    }
                    zoneFields.put(zone, zf);
                    DnsTuning t = tuning(zf);
                    if (t != null) {
                        zones.put(name, t);
                    }
                });
            }
        }
        if (yaml.errorCount() != before || tuning == null) {
            return Optional.empty();
        }
        var settings = new DnsSettings(
                resolvConf, tuning, maxEntries, maxInFlight, queueLimit, searchList, ndots, edns, zones);
        try {
            // build() validates the combination (maxTtl >= minTtl, each zone's values); the cache is closed at once.
            settings.newCache().close();
        } catch (UncheckedIOException e) {
            yaml.error(confNode, f.path("resolvConf") + ": " + e.getCause().getMessage());
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            reportBuilderError(f, zoneFields, e);
            return Optional.empty();
        }
        return Optional.of(settings);
    }

    /** A builder refusal at the setting it names: in a zone ({@code zones.<zone>.<key>: ...}) or in the section. */
    private void reportBuilderError(Fields f, Map<String, Fields> zoneFields, IllegalArgumentException e) {
        String message = String.valueOf(e.getMessage());
        for (var z : zoneFields.entrySet()) {
            String prefix = "zones." + z.getKey() + ".";
            if (message.startsWith(prefix)) {
                reportAt(z.getValue(), message.substring(prefix.length()), e);
                return;
            }
        }
        reportAt(f, message, e);
    }

    /** At the key the message is labelled with ({@code maxTtl: 5s (expected: >= minTtl (10s))}), else as YamlReader. */
    private void reportAt(Fields f, String message, IllegalArgumentException e) {
        int colon = message.indexOf(": ");
        String key = colon < 0 ? "" : message.substring(0, colon);
        Node at = f.value(key);
        if (at != null) {
            yaml.error(at, f.path(key) + message.substring(colon));
        } else {
            yaml.builderError(f, new IllegalArgumentException(message, e));
        }
    }

    /** The tuning keys of {@code f} (the section or a zone), or null when one of them is wrong (recorded). */
    private DnsTuning tuning(Fields f) {
        int before = yaml.errorCount();
        List<String> upstreams = new ArrayList<>();
        Node upstreamsNode = f.value("upstreams");
        if (upstreamsNode != null) {
            List<Node> items = yaml.sequence(upstreamsNode, f.path("upstreams"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("upstreams") + "[" + i + "]";
                String server = yaml.string(items.get(i), itemPath);
                if (server != null && yaml.probe(items.get(i), itemPath, () -> checkServer(server))) {
                    upstreams.add(server);
                }
            }
            if (items != null && items.isEmpty()) {
                yaml.error(upstreamsNode, f.path("upstreams") + ": [] (expected: at least one server)");
            }
        }
        var t = new DnsTuning(
                upstreams,
                yaml.valueOr(f, "forceTcp", yaml::bool, null),
                intOrNull(f, "attempts", 1, 100),
                duration(f, "queryTimeout", false),
                duration(f, "retryBackoff", true),
                duration(f, "staleClientTimeout", true),
                duration(f, "staleFor", true),
                duration(f, "staleAnswerTtl", false),
                duration(f, "minTtl", true),
                duration(f, "maxTtl", false),
                duration(f, "maxNegativeTtl", true),
                duration(f, "failureTtl", true),
                yaml.valueOr(f, "refreshAheadAt", this::fraction, null));
        return yaml.errorCount() == before ? t : null;
    }

    private Duration duration(Fields f, String key, boolean zeroAllowed) {
        return yaml.valueOr(f, key, (n, p) -> yaml.duration(n, p, zeroAllowed), null);
    }

    private Integer intOrNull(Fields f, String key, int min, int max) {
        Long v = yaml.valueOr(f, key, (n, p) -> yaml.integer(n, p, min, max), null);
        return v == null ? null : v.intValue();
    }

    /** A number in (0, 1]. */
    private Double fraction(Node node, String path) {
        if (node instanceof ScalarNode s && (Tag.FLOAT.equals(s.getTag()) || Tag.INT.equals(s.getTag()))) {
            try {
                double v = Double.parseDouble(s.getValue());
                if (v > 0 && v <= 1) {
                    return v;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            yaml.error(node, path + ": " + s.getValue() + " (expected: a fraction > 0 and <= 1, like 0.8)");
            return null;
        }
        yaml.error(node, path + ": not a number (expected: a fraction > 0 and <= 1, like 0.8)");
        return null;
    }

    private static void checkServer(String server) {
        DnsCache.builder().upstreams(server).build().close();
    }

    private static String normalize(String zone) {
        String z = zone.toLowerCase(Locale.ROOT);
        return z.endsWith(".") && z.length() > 1 ? z.substring(0, z.length() - 1) : z;
    }
}
