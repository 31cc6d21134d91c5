package dev.torii.server.internal;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.slf4j.Logger;

/**
 * Logback's configuration when it is the one the distribution ships ({@code conf/logback.xml}, unchanged): the same
 * appender, pattern and levels, set up in code. Reading that file the usual way (Joran: an XML parser, a model, bean
 * introspection) costs several hundred classes and about a quarter of the main thread's work before the first request
 * on a gateway without plugins; a file an operator changed, or any other configuration, is left to Joran as before.
 *
 * <p>Found by logback through {@link java.util.ServiceLoader} ({@code META-INF/services}), which asks it before its own
 * configurators. Runs once, on the thread that first asks for a logger.
 */
public final class ShippedLogging extends ContextAwareBase implements Configurator {
    /** A copy of {@code src/dist/conf/logback.xml}, which a test keeps identical to it. */
    static final String SHIPPED = "shipped-logback.xml";

    /** The pattern of the shipped file's STDERR appender. */
    static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{0}: %msg%n";

    /** Made by logback's service loader. */
    public ShippedLogging() {}

    /**
     * Configures {@code context} like the shipped file when {@code logback.configurationFile} names a file with the
     * shipped text; otherwise leaves it to the next configurator.
     */
    @Override
    public ExecutionStatus configure(LoggerContext context) {
        String file = System.getProperty("logback.configurationFile");
        if (file == null || !isShipped(Path.of(file))) {
            return ExecutionStatus.NEUTRAL;
        }
        apply(context);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** Whether {@code file} holds exactly the text of the shipped {@code conf/logback.xml}. */
    static boolean isShipped(Path file) {
        try (InputStream in = ShippedLogging.class.getResourceAsStream(SHIPPED)) {
            return in != null && Arrays.equals(in.readAllBytes(), Files.readAllBytes(file));
        } catch (IOException | RuntimeException e) {
            return false; // unreadable: Joran reports it
        }
    }

    /** What the shipped file says: one line per event on stderr, Netty at WARN, the rest at INFO. */
    static void apply(LoggerContext context) {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(PATTERN);
        encoder.start();
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName("STDERR");
        appender.setTarget("System.err");
        appender.setEncoder(encoder);
        appender.start();
        context.getLogger("io.netty").setLevel(Level.WARN);
        ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.INFO);
        root.addAppender(appender);
    }
}
