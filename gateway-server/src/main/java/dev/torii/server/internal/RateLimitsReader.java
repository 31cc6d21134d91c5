package dev.torii.server.internal;

import dev.torii.ratelimit.Bandwidth;
import dev.torii.ratelimit.RateLimitKey;
import dev.torii.ratelimit.RateLimitPolicy;
import dev.torii.server.config.RateLimitSettings;
import dev.torii.server.config.RateLimitSettings.RedisSettings;
import dev.torii.server.internal.YamlReader.Fields;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * Reads the rate-limit parts of a {@code torii.yaml}: the named policies of the top-level {@code rateLimits:}, the
 * {@code redis:} section, the gateway-wide {@code rateLimit:}, each route's and each listener's {@code rateLimit:}. An attachment is a
 * policy name, a list of names, or an inline policy (named after its route, or {@code global}):
 *
 * <pre>
 * redis: { address: "127.0.0.1:6379" }
 * rateLimits:
 *   per-ip:  { key: clientIp, rate: 100, per: 1s, burst: 200 }
 *   api:     { key: "header:x-api-key", limits: [ { rate: 10, per: 1s }, { rate: 300, per: 1m } ] }
 *   cluster: { key: clientIp, rate: 1000, per: 1m, store: redis, onStoreFailure: open, storeTimeout: 50ms }
 * rateLimit: per-ip
 * routes:
 *   - { match: { pathPrefix: /api }, upstream: app, rateLimit: [ api, cluster ] }
 * </pre>
 *
 * <p>Names are checked once everything is read, so the order of the sections does not matter. Not thread-safe; one
 * instance reads one file with the {@link ConfigReader} that owns {@code yaml}.
 */
final class RateLimitsReader {
    static final List<String> POLICY_KEYS = List.of(
            "key", "rate", "per", "burst", "limits", "shadow", "store", "onStoreFailure", "storeTimeout", "maxKeys");
    private static final List<String> LIMIT_KEYS = List.of("rate", "per", "burst");
    private static final List<String> REDIS_KEYS = List.of("address", "password", "database", "keyPrefix");

    private final YamlReader yaml;
    private final Map<String, RateLimitPolicy> policies = new LinkedHashMap<>();
    private final List<Ref> global = new ArrayList<>();
    private final Map<String, List<Ref>> routes = new LinkedHashMap<>();
    private final Map<String, List<Ref>> listeners = new LinkedHashMap<>();
    private final java.util.Set<String> tcpListeners = new java.util.HashSet<>();
    private Optional<RedisSettings> redis = Optional.empty();
    private Node redisNode;
    /** The first {@code store: redis}, and its path, to report a missing redis section at. */
    private Node redisStoreNode;

    private String redisStorePath;

    /** A reference to a policy by name, where it was written. */
    private record Ref(String name, Node node, String path) {}

    RateLimitsReader(YamlReader yaml) {
        this.yaml = yaml;
    }

    /** The top-level {@code rateLimits:} mapping of named policies (may be {@code null}). */
    void readPolicies(Node node) {
        if (node == null) {
            return;
        }
        var entries = yaml.mapping(node, "rateLimits");
        if (entries == null) {
            return;
        }
        entries.forEach((name, tuple) -> {
            RateLimitPolicy p = readPolicy(tuple.getValueNode(), "rateLimits." + name, name);
            if (p != null) {
                policies.put(name, p);
            }
        });
    }

    /** The address of the top-level {@code redis:} connection, once read (the maintenance switch shares it). */
    Optional<String> redisAddress() {
        return redis.map(RedisSettings::address);
    }

    /** The top-level {@code redis:} section (may be {@code null}). */
    void readRedis(Node node) {
        if (node == null) {
            return;
        }
        redisNode = node;
        Fields f = yaml.fields(node, "redis", REDIS_KEYS, List.of());
        if (f == null) {
            return;
        }
        int before = yaml.errorCount();
        String address = yaml.requiredString(f, "address");
        if (address != null) {
            yaml.probe(f.value("address"), f.path("address"), () -> dev.torii.ratelimit.RedisStore.builder()
                    .address(address));
        }
        String password = yaml.valueOr(f, "password", yaml::string, null);
        long database = yaml.valueOr(f, "database", (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE), 0L);
        String prefix = yaml.valueOr(f, "keyPrefix", yaml::string, "torii:rl:");
        if (yaml.errorCount() == before && address != null) {
            redis = Optional.of(new RedisSettings(address, password, (int) database, prefix));
        }
    }

    /** The top-level {@code rateLimit:} (may be {@code null}): policies checked for every request. */
    void readGlobal(Node node) {
        if (node == null) {
            return;
        }
        global.addAll(readAttachment(node, "rateLimit", "global"));
    }

    /** A route's {@code rateLimit:}. */
    void readRoute(Node node, String path, String routeName) {
        routes.put(routeName, readAttachment(node, path, routeName));
    }

    /**
     * A listener's {@code rateLimit:} (http, https or tcp): a policy name, a list of names, or an inline policy named
     * {@code listener:NAME}.
     */
    void readListener(Node node, String path, String listenerName, boolean tcp) {
        listeners.put(listenerName, readAttachment(node, path, "listener:" + listenerName));
        if (tcp) {
            tcpListeners.add(listenerName);
        }
    }

    private List<Ref> readAttachment(Node node, String path, String inlineName) {
        List<Ref> refs = new ArrayList<>();
        if (node instanceof ScalarNode) {
            String name = yaml.nonBlank(node, path, "a policy name from rateLimits, or a policy");
            if (name != null) {
                refs.add(new Ref(name, node, path));
            }
        } else if (node instanceof SequenceNode) {
            List<Node> items = yaml.sequence(node, path);
            for (int i = 0; i < items.size(); i++) {
                String p = path + "[" + i + "]";
                String name = yaml.nonBlank(items.get(i), p, "a policy name from rateLimits");
                if (name != null) {
                    refs.add(new Ref(name, items.get(i), p));
                }
            }
        } else {
            if (policies.containsKey(inlineName)) {
                yaml.error(
                        node,
                        path + ": an inline policy is named '" + inlineName
                                + "' after its route, and rateLimits has one of that name (expected: refer to it"
                                + " by name, or rename one)");
                return refs;
            }
            RateLimitPolicy p = readPolicy(node, path, inlineName);
            if (p != null) {
                policies.put(inlineName, p);
                refs.add(new Ref(inlineName, node, path));
            }
        }
        return refs;
    }

    private RateLimitPolicy readPolicy(Node node, String path, String name) {
        Fields f = yaml.fields(node, path, POLICY_KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        RateLimitPolicy.Builder b = RateLimitPolicy.builder(name);
        Node keyNode = f.value("key");
        if (keyNode != null) {
            String text = yaml.string(keyNode, f.path("key"));
            if (text != null) {
                try {
                    b.key(RateLimitKey.parse(text));
                } catch (IllegalArgumentException e) {
                    yaml.error(keyNode, YamlReader.relabel(f.path("key"), e.getMessage()));
                }
            }
        }
        Node rateNode = f.value("rate");
        Node limitsNode = f.value("limits");
        if (rateNode != null && limitsNode != null) {
            yaml.error(
                    limitsNode,
                    f.path("limits") + ": set with rate (expected: either rate/per/burst for one bandwidth, or"
                            + " limits for several)");
        } else if (rateNode != null) {
            Bandwidth bw = readBandwidth(f);
            if (bw != null) {
                b.bandwidth(bw);
            }
        } else if (limitsNode != null) {
            List<Node> items = yaml.sequence(limitsNode, f.path("limits"));
            if (items != null && items.isEmpty()) {
                yaml.error(limitsNode, f.path("limits") + ": [] (expected: at least one { rate, per, burst })");
            }
            for (int i = 0; items != null && i < items.size(); i++) {
                Fields lf = yaml.fields(items.get(i), f.path("limits") + "[" + i + "]", LIMIT_KEYS, List.of());
                Bandwidth bw = lf == null ? null : readBandwidth(lf);
                if (bw != null) {
                    b.bandwidth(bw);
                }
            }
        } else {
            yaml.error(
                    node,
                    path + ": missing key 'rate' (expected: requests per 'per', e.g. { key: clientIp, rate: 100,"
                            + " per: 1s, burst: 200 })");
        }
        yaml.set(f, "shadow", yaml::bool, b::shadow);
        Node storeNode = f.value("store");
        boolean redisStore = false;
        if (storeNode != null) {
            String s = yaml.string(storeNode, f.path("store"));
            if ("redis".equals(s)) {
                b.store(RateLimitPolicy.Store.REDIS);
                redisStore = true;
                if (redisStoreNode == null) {
                    redisStoreNode = storeNode;
                    redisStorePath = f.path("store");
                }
            } else if (s != null && !"local".equals(s)) {
                yaml.error(storeNode, f.path("store") + ": '" + s + "' (expected one of: local, redis)");
            }
        }
        Node failNode = f.value("onStoreFailure");
        if (failNode != null) {
            String s = yaml.string(failNode, f.path("onStoreFailure"));
            if (s != null && !redisStore) {
                yaml.error(failNode, f.path("onStoreFailure") + ": " + s + " (expected: only with store: redis)");
            } else if ("open".equals(s)) {
                b.onStoreFailure(RateLimitPolicy.StoreFailure.OPEN);
            } else if ("closed".equals(s)) {
                b.onStoreFailure(RateLimitPolicy.StoreFailure.CLOSED);
            } else if (s != null) {
                yaml.error(failNode, f.path("onStoreFailure") + ": '" + s + "' (expected one of: open, closed)");
            }
        }
        yaml.set(f, "storeTimeout", (n, p) -> yaml.duration(n, p, false), b::storeTimeout);
        yaml.set(f, "maxKeys", (n, p) -> yaml.integer(n, p, 1, Long.MAX_VALUE), b::maxKeys);
        return yaml.build(f, before, b::build);
    }

    private Bandwidth readBandwidth(Fields f) {
        int before = yaml.errorCount();
        Node rateNode = f.value("rate");
        if (rateNode == null) {
            yaml.error(f.node(), f.path() + ": missing key 'rate' (expected: requests per 'per', e.g. rate: 100)");
            return null;
        }
        Long rate = yaml.integer(rateNode, f.path("rate"), 1, Long.MAX_VALUE);
        Duration per = yaml.valueOr(f, "per", (n, p) -> yaml.duration(n, p, false), Duration.ofSeconds(1));
        Long burst = yaml.valueOr(f, "burst", (n, p) -> yaml.integer(n, p, 1, Long.MAX_VALUE), rate);
        return yaml.build(f, before, () -> new Bandwidth(rate, per, burst));
    }

    /**
     * Checks every reference against the policies read, a {@code route}-keyed policy attached globally (global hooks
     * run before routing) and a Redis policy without the redis section, and returns the settings.
     */
    RateLimitSettings resolve() {
        List<String> globalNames = check(global);
        for (Ref r : global) {
            RateLimitPolicy p = policies.get(r.name());
            if (p != null && p.key().toString().equals("route")) {
                yaml.error(
                        r.node(),
                        r.path() + ": policy '" + r.name() + "' is keyed by route (expected: on a route; the"
                                + " top-level rateLimit runs before routing)");
            }
        }
        Map<String, List<String>> listenerNames = new LinkedHashMap<>();
        listeners.forEach((listener, refs) -> {
            listenerNames.put(listener, check(refs));
            for (Ref r : refs) {
                RateLimitPolicy p = policies.get(r.name());
                String key = p == null ? null : p.key().toString();
                if ("route".equals(key)) {
                    yaml.error(
                            r.node(),
                            r.path() + ": policy '" + r.name() + "' is keyed by route (expected: on a route; a"
                                    + " listener's rateLimit runs before routing)");
                } else if (key != null && tcpListeners.contains(listener) && !"clientIp".equals(key)) {
                    yaml.error(
                            r.node(),
                            r.path() + ": policy '" + r.name() + "' is keyed by " + key + " (expected: clientIp on a"
                                    + " tcp listener: a connection has no headers or cookies)");
                }
            }
        });
        Map<String, List<String>> routeNames = new LinkedHashMap<>();
        routes.forEach((route, refs) -> routeNames.put(route, check(refs)));
        if (redisStoreNode != null && redisNode == null) {
            yaml.error(
                    redisStoreNode,
                    redisStorePath + ": redis needs the redis section (expected: redis: { address: \"127.0.0.1:6379\" }"
                            + " at the top level)");
        }
        return new RateLimitSettings(policies, globalNames, routeNames, redis, listenerNames);
    }

    private List<String> check(List<Ref> refs) {
        List<String> names = new ArrayList<>();
        for (Ref r : refs) {
            if (policies.containsKey(r.name())) {
                names.add(r.name());
            } else {
                String close = YamlReader.closest(r.name(), List.copyOf(policies.keySet()));
                yaml.error(
                        r.node(),
                        r.path() + ": no policy '" + r.name() + "' in rateLimits ("
                                + (close != null
                                        ? "did you mean '" + close + "'?"
                                        : "expected one of: " + String.join(", ", policies.keySet()))
                                + ")");
            }
        }
        return names;
    }
}
