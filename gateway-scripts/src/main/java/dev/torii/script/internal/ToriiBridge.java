package dev.torii.script.internal;

import dev.torii.script.SharedDict;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.function.BooleanSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.graalvm.polyglot.HostAccess;
import org.graalvm.polyglot.Value;

/**
 * The Java side of the {@code torii} global of one context. It reads the phase and plugin of the call running in its
 * context, so {@code torii.log} names the right plugin and {@code torii.shared} enforces its phases. Digests are kept
 * per context because contexts are thread-confined and {@link Mac#getInstance} is costly.
 *
 * <p>Confined to its context's thread.
 */
public final class ToriiBridge {
    private final ThreadContext context;
    private final SharedZones zones;
    private final TimeSource time;
    private final LogSink sink;
    private final BooleanSupplier maintenance;
    private MessageDigest sha256;
    private Mac hmac;

    ToriiBridge(ThreadContext context, SharedZones zones, TimeSource time, LogSink sink, BooleanSupplier maintenance) {
        this.context = context;
        this.maintenance = maintenance;
        this.zones = zones;
        this.time = time;
        this.sink = sink;
    }

    @HostAccess.Export
    public void log(String level, String message) {
        HookSpec spec = context.spec;
        if (spec == null) {
            return;
        }
        sink.log(spec, level, message);
    }

    @HostAccess.Export
    public double now() {
        return time.epochMillis();
    }

    /** {@code torii.maintenance.enabled}: the gateway's maintenance switch, readable in every phase and at init. */
    @HostAccess.Export
    public boolean maintenanceEnabled() {
        return maintenance.getAsBoolean();
    }

    @HostAccess.Export
    public ZoneBridge shared(String zone) {
        checkShared();
        return new ZoneBridge(context, zones.zone(zone));
    }

    @HostAccess.Export
    public void checkShared() {
        Phases.check("torii.shared()", Phases.ANY, context.phase);
    }

    @HostAccess.Export
    public String sha256(String text) {
        if (sha256 == null) {
            try {
                sha256 = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is missing from this JVM", e);
            }
        }
        return HexFormat.of().formatHex(sha256.digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    @HostAccess.Export
    public String hmacSha256(String key, String text, String encoding) {
        try {
            if (hmac == null) {
                hmac = Mac.getInstance("HmacSHA256");
            }
            hmac.init(new SecretKeySpec(
                    key.isEmpty() ? new byte[1] : key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            byte[] mac = hmac.doFinal(text.getBytes(StandardCharsets.UTF_8));
            return switch (encoding) {
                case "hex" -> HexFormat.of().formatHex(mac);
                case "base64" -> Base64.getEncoder().encodeToString(mac);
                case "base64url" -> Base64.getUrlEncoder().withoutPadding().encodeToString(mac);
                default ->
                    throw new IllegalArgumentException(
                            "torii.hmacSha256 encoding: '" + encoding + "' (expected: hex, base64 or base64url)");
            };
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 failed: " + e.getMessage(), e);
        }
    }

    @HostAccess.Export
    public String base64Encode(String text, boolean url) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        return url
                ? Base64.getUrlEncoder().withoutPadding().encodeToString(b)
                : Base64.getEncoder().encodeToString(b);
    }

    @HostAccess.Export
    public String base64Decode(String text, boolean url) {
        try {
            byte[] b = url
                    ? Base64.getUrlDecoder().decode(text)
                    : Base64.getDecoder().decode(text);
            return new String(b, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "torii.base64.decode: '" + (text.length() > 40 ? text.substring(0, 40) + "..." : text)
                            + "' (expected: " + (url ? "base64url" : "base64") + " text): " + e.getMessage());
        }
    }

    @HostAccess.Export
    public boolean timingSafeEqual(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * {@code torii.dns.resolve}: looks {@code name} up in the gateway's DNS cache and calls {@code fulfil(json)} or
     * {@code reject(code, message)} in a later slice of this call (see {@link DnsBridge}).
     */
    @HostAccess.Export
    public void dnsResolve(String name, String type, Value fulfil, Value reject) {
        Phases.check("torii.dns.resolve()", DnsBridge.PHASES, context.phase);
        DnsBridge.resolve(context, name, type, fulfil, reject);
    }

    /** Where plugin log lines go: the gateway log, or a test's list. Thread-safe. */
    public interface LogSink {
        /** One line of {@code torii.log} or {@code console.*}; {@code level} is debug, info, warn or error. */
        void log(HookSpec spec, String level, String message);

        /** Logs to SLF4J logger {@code torii.plugin.NAME}. */
        LogSink SLF4J = (spec, level, message) -> {
            var l = spec.logger();
            switch (level) {
                case "debug" -> l.debug(message);
                case "warn" -> l.warn(message);
                case "error" -> l.error(message);
                default -> l.info(message);
            }
        };
    }

    /** The Java side of one {@code torii.shared(zone)} dictionary in one context; checks phases on every use. */
    public static final class ZoneBridge {
        private final ThreadContext context;
        private final SharedDict zone;

        ZoneBridge(ThreadContext context, SharedDict zone) {
            this.context = context;
            this.zone = zone;
        }

        private String name(String function) {
            return "torii.shared(\"" + zone.name() + "\")." + function + "()";
        }

        /** Checks the phase; the function's name is built only for a message (this runs on every call). */
        private void check(String function) {
            if (context.phase == null) {
                Phases.check(name(function), Phases.ANY, null);
            }
        }

        private Duration ttl(String function, String ttl) {
            return ttl == null ? null : context.durations.duration(() -> name(function) + " ttl", ttl);
        }

        private static Object value(String f, Value v) {
            if (v.isString()) {
                return v.asString();
            }
            if (v.isBoolean()) {
                return v.asBoolean();
            }
            if (v.isNumber() && v.fitsInDouble()) {
                return v.asDouble();
            }
            throw new IllegalArgumentException(
                    f + " value: " + v + " (expected: a string, number or boolean; use JSON.stringify for objects)");
        }

        @HostAccess.Export
        public Object get(String key) {
            check("get");
            return zone.get(key);
        }

        @HostAccess.Export
        public void set(String key, Value value, String ttl) {
            check("set");
            zone.set(key, value(name("set"), value), ttl("set", ttl));
        }

        @HostAccess.Export
        public boolean add(String key, Value value, String ttl) {
            check("add");
            return zone.add(key, value(name("add"), value), ttl("add", ttl));
        }

        @HostAccess.Export
        public double incr(String key, double delta, String ttl) {
            check("incr");
            if (!Double.isFinite(delta)) {
                throw new IllegalArgumentException(name("incr") + " delta: " + delta + " (expected: a finite number)");
            }
            return zone.incr(key, delta, ttl("incr", ttl));
        }

        @HostAccess.Export
        public boolean delete(String key) {
            check("delete");
            return zone.delete(key);
        }
    }
}
