package dev.torii.server;

import dev.torii.Gateway;
import dev.torii.server.config.ServerConfig;
import dev.torii.server.demo.EchoService;
import dev.torii.server.internal.Units;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A standalone gateway as {@code torii run} runs it: the {@link Gateway} a {@link ServerConfig} describes, plus the
 * demo echo service when the configuration asks for one.
 *
 * <p>Thread-safe; {@link #close()} may be called from any thread, more than once.
 */
public final class ToriiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ToriiServer.class);

    private final ServerConfig config;
    private final Gateway gateway;
    private final EchoService demoEcho;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ToriiServer(ServerConfig config, Gateway gateway, EchoService demoEcho) {
        this.config = config;
        this.gateway = gateway;
        this.demoEcho = demoEcho;
    }

    /**
     * Starts the demo echo service (if configured) and then the gateway, so the gateway never accepts a request
     * before its demo upstream can answer. Returns once every listener is bound.
     *
     * @throws java.io.UncheckedIOException when an address cannot be bound; whatever was started is closed again
     */
    public static ToriiServer start(ServerConfig config) {
        Objects.requireNonNull(config, "config");
        EchoService echo = config.demoEcho()
                .map(e -> EchoService.start(e.host(), e.port()))
                .orElse(null);
        try {
            // The engine logs each bound listener itself.
            Gateway gateway = config.gatewayBuilder().build().start();
            return new ToriiServer(config, gateway, echo);
        } catch (RuntimeException e) {
            if (echo != null) {
                echo.close();
            }
            throw e;
        }
    }

    /** The running gateway. */
    public Gateway gateway() {
        return gateway;
    }

    /** The demo echo service, when the configuration has {@code demo.echo}. */
    public Optional<EchoService> demoEcho() {
        return Optional.ofNullable(demoEcho);
    }

    /**
     * Closes the gateway gracefully (in-flight exchanges get up to {@code limits.shutdownTimeout}), then the demo
     * echo service, which may be serving those exchanges until then. Blocks until both are closed.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        log.info(
                "shutting down (in-flight exchanges get up to {})",
                Units.format(config.limits().shutdownTimeout()));
        try {
            gateway.close();
        } finally {
            if (demoEcho != null) {
                demoEcho.close();
            }
        }
        log.info("stopped");
    }
}
