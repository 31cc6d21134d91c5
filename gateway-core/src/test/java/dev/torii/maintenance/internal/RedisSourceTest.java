package dev.torii.maintenance.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

class RedisSourceTest {
    @Test
    void theSharedTextNamesTheSwitchThenTheRoutesInOrder() {
        assertThat(RedisSource.encode(true, Set.of())).isEqualTo("on");
        assertThat(RedisSource.encode(false, Set.of("b", "a"))).isEqualTo("off routes=a,b");
    }

    @Test
    void aSharedTextReadsBackAsTheStateItWasMadeOf() {
        assertThat(RedisSource.decode(RedisSource.encode(false, Set.of("b", "a"))))
                .isEqualTo(new RedisSource.State(false, Set.of("a", "b")));
        assertThat(RedisSource.decode(" on ")).isEqualTo(new RedisSource.State(true, Set.of()));
    }

    @Test
    void aTextThatIsNoStateIsIgnored() {
        assertThat(RedisSource.decode("maybe")).isNull();
        assertThat(RedisSource.decode("on paths=/x")).isNull();
    }

    @Test
    void withoutATargetNothingIsSharedAndMovingToNoneChangesNothing() {
        var source = new RedisSource(null, () -> "off", v -> {});
        assertThat(source.inUse()).isFalse();
        assertThat(source.connected()).isFalse();
        assertThat(source.outages()).isZero();
        assertThat(source.moveTo(null, false)).isFalse();
        source.publish(); // nothing to write to
        source.close();
    }
}
