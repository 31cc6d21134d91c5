package dev.torii.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class StatusSamplerTest {
    @Test
    void quantilesInterpolateWithinTheBucketAsHistogramQuantileDoes() {
        Map<Double, Double> cumulative = new TreeMap<>(Map.of(1.0, 50.0, 10.0, 90.0, 100.0, 100.0));
        assertThat(StatusSampler.quantile(cumulative, 0.5)).isCloseTo(1.0, within(1e-9));
        assertThat(StatusSampler.quantile(cumulative, 0.7)).isCloseTo(5.5, within(1e-9)); // halfway from 1 to 10
        assertThat(StatusSampler.quantile(cumulative, 0.99)).isCloseTo(91.0, within(1e-9));
        assertThat(StatusSampler.quantile(new TreeMap<>(Map.of(1.0, 0.0)), 0.5)).isNaN();
    }
}
