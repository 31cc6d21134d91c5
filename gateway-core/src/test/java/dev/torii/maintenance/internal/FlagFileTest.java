package dev.torii.maintenance.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FlagFileTest {
    @Test
    void isOnWhileTheFileExistsAndOffOnceMovedToNone(@TempDir Path dir) throws Exception {
        Path flag = dir.resolve("maintenance.on");
        var file = new FlagFile(flag);
        assertThat(file.check()).isFalse();
        Files.createFile(flag);
        assertThat(file.check()).isTrue();
        assertThat(file.on()).isTrue();
        assertThat(file.check()).isFalse(); // no change
        assertThat(file.moveTo(flag)).isFalse();
        assertThat(file.moveTo(null)).isTrue();
        assertThat(file.check()).isTrue();
        assertThat(file.on()).isFalse();
        assertThat(file.path()).isNull();
    }
}
