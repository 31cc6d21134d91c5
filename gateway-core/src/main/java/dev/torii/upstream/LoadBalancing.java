package dev.torii.upstream;

import java.util.Arrays;
import java.util.Locale;

/** How an {@link Upstream} spreads requests over its endpoints. */
public enum LoadBalancing {
    /** Each endpoint in turn, across all event loops. */
    ROUND_ROBIN("round-robin"),
    /** The endpoint with the fewest requests in flight (gateway-wide); ties go round-robin. */
    LEAST_IN_FLIGHT("least-in-flight");

    private final String configName;

    LoadBalancing(String configName) {
        this.configName = configName;
    }

    /** The name used in configuration files, e.g. {@code round-robin}. */
    public String configName() {
        return configName;
    }

    /** The policy named {@code name} in configuration ({@code round-robin}, {@code least-in-flight}). */
    public static LoadBalancing fromConfigName(String name) {
        for (LoadBalancing lb : values()) {
            if (lb.configName.equals(name.toLowerCase(Locale.ROOT))) {
                return lb;
            }
        }
        throw new IllegalArgumentException("loadBalancer: '" + name + "' (expected one of: "
                + String.join(
                        ", ",
                        Arrays.stream(values()).map(LoadBalancing::configName).toList()) + ")");
    }
}
