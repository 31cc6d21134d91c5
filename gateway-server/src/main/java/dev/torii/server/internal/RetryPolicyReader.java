package dev.torii.server.internal;

import dev.torii.route.RetryPolicy;
import dev.torii.server.internal.YamlReader.Fields;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * A route's {@code retry} key: {@code retry: { attempts: 3, on: [connect-failure, reset, 502, 503, 504],
 * perTryTimeout: 2s, budget: { percent: 20, minConcurrent: 3 } }}. Every key but {@code attempts} is optional ({@code on}
 * defaults to all five conditions, the budget to Envoy's 20 % with at least 3). Not thread-safe.
 */
final class RetryPolicyReader {
    private static final List<String> KEYS = List.of("attempts", "on", "perTryTimeout", "budget");
    private static final List<String> BUDGET_KEYS = List.of("percent", "minConcurrent");

    private final YamlReader yaml;

    RetryPolicyReader(YamlReader yaml) {
        this.yaml = yaml;
    }

    /** The policy at {@code node}, or null after reporting its errors. */
    RetryPolicy read(Node node, String path) {
        Fields f = yaml.fields(node, path, KEYS, List.of());
        if (f == null) {
            return null;
        }
        int before = yaml.errorCount();
        RetryPolicy d = RetryPolicy.of(2);
        Node attemptsNode = f.value("attempts");
        Long attempts = attemptsNode == null ? null : yaml.integer(attemptsNode, f.path("attempts"), 1, 10);
        if (attemptsNode == null) {
            yaml.error(f.node(), path + ": missing key 'attempts' (expected: the most attempts in all, 1-10)");
        }
        boolean connectFailure = d.onConnectFailure();
        boolean reset = d.onReset();
        Set<Integer> statuses = d.onStatuses();
        Node onNode = f.value("on");
        if (onNode != null) {
            connectFailure = false;
            reset = false;
            statuses = new TreeSet<>();
            List<Node> items = yaml.sequence(onNode, f.path("on"));
            for (int i = 0; items != null && i < items.size(); i++) {
                String itemPath = f.path("on") + "[" + i + "]";
                String text = yaml.string(items.get(i), itemPath);
                if (text == null) {
                    continue;
                }
                switch (text) {
                    case "connect-failure" -> connectFailure = true;
                    case "reset" -> reset = true;
                    case "502", "503", "504" -> statuses.add(Integer.parseInt(text));
                    default ->
                        yaml.error(
                                items.get(i),
                                itemPath + ": '" + text + "' (expected one of: connect-failure, reset, 502, 503, 504)");
                }
            }
        }
        Duration perTry = yaml.valueOr(f, "perTryTimeout", (n, p) -> yaml.duration(n, p, false), null);
        int percent = d.budgetPercent();
        int minConcurrent = d.budgetMinConcurrent();
        Node budgetNode = f.value("budget");
        if (budgetNode != null) {
            Fields b = yaml.fields(budgetNode, f.path("budget"), BUDGET_KEYS, List.of());
            if (b != null) {
                percent = yaml.valueOr(b, "percent", (n, p) -> yaml.integer(n, p, 0, 100), (long) percent)
                        .intValue();
                minConcurrent = yaml.valueOr(
                                b, "minConcurrent", (n, p) -> yaml.integer(n, p, 0, Integer.MAX_VALUE), (long)
                                        minConcurrent)
                        .intValue();
            }
        }
        if (attempts == null) {
            return null;
        }
        int n = attempts.intValue();
        boolean c = connectFailure;
        boolean r = reset;
        Set<Integer> s = statuses;
        int pct = percent;
        int min = minConcurrent;
        return yaml.build(f, before, () -> new RetryPolicy(n, c, r, s, perTry, pct, min));
    }
}
