package dev.torii.maintenance;

import dev.torii.ErrorResponder;
import dev.torii.Exchange;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.LocalResponse;
import dev.torii.ProxyError;
import dev.torii.internal.Cidr;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The maintenance switch: while it is on, every HTTP request gets {@code 503} ({@link ProxyError#MAINTENANCE}) with
 * the maintenance page and {@code Retry-After}, before routing and before any other hook (JavaScript plugins
 * included), except requests from the bypass address blocks (operators checking the site).
 *
 * <p>Two independent inputs turn it on; maintenance is on while either is: the <em>switch</em>, flipped at run time
 * with {@link #enable()} and {@link #disable()} (the admin API, a JavaScript-free runbook), and the optional
 * <em>flag file</em>, on while the file exists (a deploy script's {@code touch maintenance.on}). The file is checked
 * off the event loops every {@link Builder#pollInterval poll interval} once {@link #start()} ran (the gateway calls
 * it); a request never touches the file system.
 *
 * <p>TCP listeners are not affected (their CONNECT hooks may read {@link #enabled()} and reject). Scripts read the
 * state as {@code torii.maintenance.enabled}; with {@link Builder#respond respond(false)} the switch only holds the
 * state and a plugin decides what to answer.
 *
 * <p>Thread-safe.
 */
public final class MaintenanceMode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MaintenanceMode.class);

    private final Path file;
    private final Duration pollInterval;
    private final byte[] page;
    private final String contentType;
    private final Duration retryAfter;
    private final List<String> bypass;
    private final List<Cidr> bypassBlocks;
    private final boolean respond;
    private volatile boolean switchOn;
    private volatile boolean fileOn;
    private Thread poller;
    private volatile boolean closed;

    private MaintenanceMode(Builder b) {
        this.file = b.file;
        this.pollInterval = b.pollInterval;
        this.page = b.page;
        this.contentType = b.contentType;
        this.retryAfter = b.retryAfter;
        this.bypass = List.copyOf(b.bypass);
        this.bypassBlocks = Cidr.parseAll(bypass);
        this.respond = b.respond;
        this.switchOn = b.enabled;
    }

    /** A builder: off, no flag file, the error responder's page, {@code Retry-After: 300}, no bypass. */
    public static Builder builder() {
        return new Builder();
    }

    /** Turns the switch on (the flag file, if any, is independent). */
    public void enable() {
        if (!switchOn) {
            switchOn = true;
            log.info("maintenance switch on");
        }
    }

    /** Turns the switch off; maintenance stays on while the flag file exists. */
    public void disable() {
        if (switchOn) {
            switchOn = false;
            log.info("maintenance switch off{}", fileOn ? " (still on: the flag file " + file + " exists)" : "");
        }
    }

    /** Whether maintenance is on: the switch is on or the flag file exists (as of the last poll). */
    public boolean enabled() {
        return switchOn || fileOn;
    }

    /** Whether the switch ({@link #enable()}/{@link #disable()}) is on, whatever the flag file says. */
    public boolean switchedOn() {
        return switchOn;
    }

    /** The flag file, or {@code null} without one. */
    public Path file() {
        return file;
    }

    /** Whether the flag file existed at the last poll ({@code false} without a file). */
    public boolean fileOn() {
        return fileOn;
    }

    /** The {@code Retry-After} sent with the page, or {@code null} for none. */
    public Duration retryAfter() {
        return retryAfter;
    }

    /** The client address blocks that pass through while maintenance is on. */
    public List<String> bypass() {
        return bypass;
    }

    /** Whether the gateway answers with the page while on ({@code false}: the state is for plugins to act on). */
    public boolean responds() {
        return respond;
    }

    /**
     * Checks the flag file once now and then polls it on a daemon thread; without a file it does nothing. Idempotent.
     * {@link dev.torii.Gateway#start()} calls it for the switch it was built with.
     */
    public synchronized void start() {
        if (file == null || poller != null || closed) {
            return;
        }
        poll();
        long nanos = pollInterval.toNanos();
        poller = Thread.ofPlatform().name("torii-maintenance-file").daemon().start(() -> {
            while (!closed) {
                LockSupport.parkNanos(nanos);
                poll();
            }
        });
    }

    /** Checks the flag file now (the poller does this every interval). */
    public void poll() {
        if (file == null) {
            return;
        }
        boolean exists = Files.exists(file);
        if (exists != fileOn) {
            fileOn = exists;
            log.info("maintenance flag file {} {}", file, exists ? "appeared: maintenance on" : "gone");
        }
    }

    /** Stops the file poller. The state stays readable. */
    @Override
    public synchronized void close() {
        closed = true;
        if (poller != null) {
            LockSupport.unpark(poller);
            poller = null;
        }
    }

    /**
     * The {@link dev.torii.Phase#REQUEST} hook that answers while maintenance is on: the page when one was set, else
     * {@code responder}'s response for {@link ProxyError#MAINTENANCE}, with {@code Retry-After} and
     * {@code Cache-Control: no-store} added. {@link dev.torii.Gateway.Builder#maintenance} installs it before every
     * other hook.
     */
    public Hook hook(ErrorResponder responder) {
        Objects.requireNonNull(responder, "responder");
        return new Hook() {
            @Override
            public String name() {
                return "maintenance";
            }

            @Override
            public HookResult onRequest(Exchange exchange) {
                if (!respond || !(switchOn || fileOn) || bypassed(exchange)) {
                    return HookResult.proceed();
                }
                return HookResult.respond(response(responder, exchange));
            }
        };
    }

    private boolean bypassed(Exchange exchange) {
        return !bypassBlocks.isEmpty()
                && exchange.clientAddress().getAddress() != null
                && Cidr.anyContains(bypassBlocks, exchange.clientAddress().getAddress());
    }

    private LocalResponse response(ErrorResponder responder, Exchange exchange) {
        var headers = new ArrayList<Map.Entry<String, String>>(4);
        byte[] body;
        if (page != null) {
            headers.add(Map.entry("content-type", contentType));
            body = page;
        } else {
            LocalResponse r = responder.render(ProxyError.MAINTENANCE, exchange);
            for (var h : r.headers()) {
                if (!h.getKey().equalsIgnoreCase("retry-after")) {
                    headers.add(h);
                }
            }
            body = r.body();
        }
        if (retryAfter != null) {
            headers.add(Map.entry("retry-after", Long.toString(retryAfter.toSeconds())));
        }
        headers.add(Map.entry("cache-control", "no-store"));
        return new LocalResponse(ProxyError.MAINTENANCE.status(), headers, body);
    }

    @Override
    public String toString() {
        return "MaintenanceMode(" + (enabled() ? "on" : "off") + (file != null ? ", file " + file : "") + ")";
    }

    /** Builds a {@link MaintenanceMode}; {@link #build()} checks the settings. Not thread-safe. */
    public static final class Builder {
        private boolean enabled;
        private Path file;
        private Duration pollInterval = Duration.ofSeconds(1);
        private byte[] page;
        private String contentType;
        private Duration retryAfter = Duration.ofSeconds(300);
        private List<String> bypass = List.of();
        private boolean respond = true;

        private Builder() {}

        /** Whether the switch starts on (default off). */
        public Builder enabled(boolean enabled) {
            this.enabled = enabled;
            return this;
        }

        /** A flag file: maintenance is on while it exists. */
        public Builder file(Path file) {
            this.file = Objects.requireNonNull(file, "file");
            return this;
        }

        /** How often the flag file is checked (default 1 s). */
        public Builder pollInterval(Duration interval) {
            this.pollInterval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /** The page to answer with (not copied). Without one, the gateway's error responder renders MAINTENANCE. */
        public Builder page(byte[] body, String contentType) {
            this.page = Objects.requireNonNull(body, "body");
            this.contentType = Objects.requireNonNull(contentType, "contentType");
            return this;
        }

        /** {@link #page(byte[], String)} with a UTF-8 text. */
        public Builder page(String body, String contentType) {
            return page(Objects.requireNonNull(body, "body").getBytes(StandardCharsets.UTF_8), contentType);
        }

        /** The {@code Retry-After} to send, whole seconds (default 300 s); {@code null} sends none. */
        public Builder retryAfter(Duration retryAfter) {
            this.retryAfter = retryAfter;
            return this;
        }

        /** Client address blocks ({@code 10.0.0.0/8}, {@code 192.0.2.7}) whose requests pass while maintenance is on. */
        public Builder bypass(List<String> cidrs) {
            this.bypass = List.copyOf(cidrs);
            return this;
        }

        /** Whether the gateway answers while on (default true); false leaves answering to plugins. */
        public Builder respond(boolean respond) {
            this.respond = respond;
            return this;
        }

        public MaintenanceMode build() {
            if (pollInterval.compareTo(Duration.ofMillis(10)) < 0) {
                throw new IllegalArgumentException(
                        "maintenance pollInterval: " + pollInterval + " (expected: at least 10ms)");
            }
            if (retryAfter != null && retryAfter.isNegative()) {
                throw new IllegalArgumentException("maintenance retryAfter: " + retryAfter + " (expected: >= 0)");
            }
            if (contentType != null
                    && (contentType.isBlank() || contentType.chars().anyMatch(c -> c < ' '))) {
                throw new IllegalArgumentException(
                        "maintenance contentType: '" + contentType + "' (expected: a media type like text/html)");
            }
            for (String c : bypass) {
                try {
                    Cidr.parse(c);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(
                            "maintenance bypass: '" + c + "' (expected: a CIDR block like 10.0.0.0/8 or an address)");
                }
            }
            return new MaintenanceMode(this);
        }
    }
}
