package dev.torii.server.admin;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The admin API's table of endpoints: exact path and method to an {@link AdminHandler}. A path that exists with other
 * methods answers 405 with {@code Allow}; an unknown path 404. Adding an endpoint is one line:
 *
 * <pre>{@code
 * AdminRoutes routes = AdminRoutes.builder()
 *         .get("/healthz", r -> AdminResponse.text(200, "ok\n"))
 *         .route("PUT", "/maintenance", r -> ...)
 *         .build();
 * }</pre>
 *
 * Immutable and thread-safe once built.
 */
public final class AdminRoutes {
    private final Map<String, Map<String, AdminHandler>> byPath;

    private AdminRoutes(Map<String, Map<String, AdminHandler>> byPath) {
        this.byPath = byPath;
    }

    /** An empty builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The paths served, in the order added. */
    public List<String> paths() {
        return List.copyOf(byPath.keySet());
    }

    /** Answers {@code request} with its endpoint, or 404 / 405. */
    public AdminResponse handle(AdminRequest request) {
        Map<String, AdminHandler> methods = byPath.get(request.path());
        if (methods == null) {
            return AdminResponse.text(
                    404,
                    "no admin endpoint " + request.path() + " (endpoints: " + String.join(", ", byPath.keySet())
                            + ")\n");
        }
        AdminHandler handler = methods.get(request.method());
        if (handler == null && request.method().equals("HEAD")) {
            handler = methods.get("GET");
        }
        if (handler == null) {
            List<String> allowed = new ArrayList<>(methods.keySet());
            if (allowed.contains("GET") && !allowed.contains("HEAD")) {
                allowed.add(allowed.indexOf("GET") + 1, "HEAD"); // GET answers HEAD too
            }
            String allow = String.join(", ", allowed);
            AdminResponse r =
                    AdminResponse.text(405, request.method() + " " + request.path() + " (allowed: " + allow + ")\n");
            return new AdminResponse(r.status(), r.contentType(), r.body(), Map.of("allow", allow));
        }
        try {
            return handler.handle(request);
        } catch (Exception e) {
            return AdminResponse.text(500, request.method() + " " + request.path() + " failed: " + e + "\n");
        }
    }

    /** Collects endpoints. Not thread-safe. */
    public static final class Builder {
        private final Map<String, Map<String, AdminHandler>> byPath = new LinkedHashMap<>();

        private Builder() {}

        /** Adds {@code GET path} (which also answers {@code HEAD}). */
        public Builder get(String path, AdminHandler handler) {
            return route("GET", path, handler);
        }

        /**
         * Adds an endpoint.
         *
         * @throws IllegalArgumentException when the path does not start with a slash or the method and path are taken
         */
        public Builder route(String method, String path, AdminHandler handler) {
            Objects.requireNonNull(handler, "handler");
            String m = method.toUpperCase(Locale.ROOT);
            if (!path.startsWith("/")) {
                throw new IllegalArgumentException("path: '" + path + "' (expected: starting with /)");
            }
            if (byPath.computeIfAbsent(path, p -> new LinkedHashMap<>()).putIfAbsent(m, handler) != null) {
                throw new IllegalArgumentException(m + " " + path + " (expected: added once)");
            }
            return this;
        }

        public AdminRoutes build() {
            Map<String, Map<String, AdminHandler>> copy = new LinkedHashMap<>();
            byPath.forEach((path, methods) -> copy.put(path, Map.copyOf(new LinkedHashMap<>(methods))));
            return new AdminRoutes(copy);
        }
    }

    @Override
    public String toString() {
        List<String> out = new ArrayList<>();
        byPath.forEach((path, methods) -> methods.keySet().forEach(m -> out.add(m + " " + path)));
        return out.toString();
    }
}
