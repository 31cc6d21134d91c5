package dev.torii.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;

class ShippedLoggingTest {
    private static final Path SHIPPED_FILE = Path.of("src/dist/conf/logback.xml");

    @Test
    void theCopyInTheJarIsTheShippedFile() throws Exception {
        try (InputStream in = ShippedLogging.class.getResourceAsStream(ShippedLogging.SHIPPED)) {
            assertThat(in).isNotNull();
            assertThat(in.readAllBytes()).isEqualTo(Files.readAllBytes(SHIPPED_FILE));
        }
        assertThat(ShippedLogging.isShipped(SHIPPED_FILE)).isTrue();
    }

    @Test
    void configuresInCodeWhatJoranMakesOfTheShippedFile() throws Exception {
        LoggerContext joran = new LoggerContext();
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(joran);
        configurator.doConfigure(SHIPPED_FILE.toFile());
        LoggerContext code = new LoggerContext();
        ShippedLogging.apply(code);

        assertThat(describe(code)).isEqualTo(describe(joran));
        assertThat(describe(code)).contains("root=INFO", "io.netty=WARN", "System.err", ShippedLogging.PATTERN);
    }

    @Test
    void leavesAChangedFileToJoran(@TempDir Path dir) throws Exception {
        Path changed = dir.resolve("logback.xml");
        Files.writeString(changed, Files.readString(SHIPPED_FILE).replace("level=\"INFO\"", "level=\"DEBUG\""));
        assertThat(ShippedLogging.isShipped(changed)).isFalse();
        assertThat(ShippedLogging.isShipped(dir.resolve("missing.xml"))).isFalse();

        String before = System.getProperty("logback.configurationFile");
        System.setProperty("logback.configurationFile", changed.toString());
        try {
            LoggerContext context = new LoggerContext();
            ShippedLogging logging = new ShippedLogging();
            logging.setContext(context);
            assertThat(logging.configure(context)).isEqualTo(ExecutionStatus.NEUTRAL);
            assertThat(context.getLogger(Logger.ROOT_LOGGER_NAME)
                            .iteratorForAppenders()
                            .hasNext())
                    .isFalse();
        } finally {
            if (before == null) {
                System.clearProperty("logback.configurationFile");
            } else {
                System.setProperty("logback.configurationFile", before);
            }
        }
    }

    private static String describe(LoggerContext context) {
        List<String> parts = new ArrayList<>();
        ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        parts.add("root=" + root.getLevel());
        Level netty = context.getLogger("io.netty").getLevel();
        parts.add("io.netty=" + netty);
        for (var it = root.iteratorForAppenders(); it.hasNext(); ) {
            Appender<ILoggingEvent> a = it.next();
            parts.add(a.getName() + ":" + a.getClass().getName() + ":" + a.isStarted());
            if (a instanceof ConsoleAppender<ILoggingEvent> console) {
                parts.add(console.getTarget());
                parts.add(((PatternLayoutEncoder) console.getEncoder()).getPattern());
            }
        }
        return String.join(" ", parts);
    }
}
