package dev.torii.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.torii.Headers;
import dev.torii.upstream.Upstream;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RoutingTableTest {
    private static final Upstream APP =
            Upstream.builder("app").endpoint("127.0.0.1:9001").build();
    private static final Upstream API =
            Upstream.builder("api").endpoint("127.0.0.1:9002").build();

    /** A minimal read-only Headers for matching. */
    static Headers headers(Map<String, String> values) {
        var lower = new HashMap<String, String>();
        values.forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), v));
        return new Headers() {
            public String get(String name) {
                return lower.get(name.toLowerCase(Locale.ROOT));
            }

            public List<String> getAll(String name) {
                String v = get(name);
                return v == null ? List.of() : List.of(v);
            }

            public boolean contains(String name) {
                return get(name) != null;
            }

            public Headers set(String name, String value) {
                throw new UnsupportedOperationException("read-only");
            }

            public Headers add(String name, String value) {
                throw new UnsupportedOperationException("read-only");
            }

            public boolean remove(String name) {
                throw new UnsupportedOperationException("read-only");
            }

            public Set<String> names() {
                return lower.keySet();
            }

            public int size() {
                return lower.size();
            }
        };
    }

    private static final Headers NONE = headers(Map.of());

    private static RoutingTable table(Route... routes) {
        var b = RoutingTable.builder().upstream(APP).upstream(API);
        for (Route r : routes) {
            b.route(r);
        }
        return b.build();
    }

    @Test
    void firstMatchingRouteInDeclarationOrderWins() {
        var t = table(
                Route.builder("admin").pathPrefix("/admin").upstream("api").build(),
                Route.builder("all").upstream("app").build(),
                Route.builder("never").pathPrefix("/admin/x").upstream("api").build());
        assertThat(t.match("GET", "a.com", "/admin/x", NONE).name()).isEqualTo("admin");
        assertThat(t.match("GET", "a.com", "/other", NONE).name()).isEqualTo("all");
    }

    @Test
    void exactHostRoutesKeepTheirOrderAmongHostlessAndWildcardRoutes() {
        var t = table(
                Route.builder("wild")
                        .host("*.example.com")
                        .pathPrefix("/w")
                        .upstream("api")
                        .build(),
                Route.builder("exact").host("api.example.com").upstream("api").build(),
                Route.builder("any").upstream("app").build());
        assertThat(t.match("GET", "api.example.com", "/w/1", NONE).name()).isEqualTo("wild");
        assertThat(t.match("GET", "API.Example.COM", "/x", NONE).name()).isEqualTo("exact");
        assertThat(t.match("GET", "www.example.com", "/x", NONE).name()).isEqualTo("any");
        assertThat(t.match("GET", "www.example.com", "/w", NONE).name()).isEqualTo("wild");
        assertThat(t.match("GET", null, "/w", NONE).name()).isEqualTo("any");
    }

    @Test
    void wildcardDoesNotMatchTheBareDomain() {
        var t = table(
                Route.builder("wild").host("*.example.com").upstream("api").build());
        assertThat(t.match("GET", "example.com", "/", NONE)).isNull();
        assertThat(t.match("GET", "a.b.example.com", "/", NONE).name()).isEqualTo("wild");
    }

    @Test
    void methodAndHeaderConditionsMustAllHold() {
        var t = table(Route.builder("post-json")
                .methods("post", "PUT")
                .header("Content-Type", "application/json")
                .upstream("api")
                .build());
        assertThat(t.match("POST", "h", "/", headers(Map.of("content-type", "application/json"))))
                .isNotNull();
        assertThat(t.match("GET", "h", "/", headers(Map.of("content-type", "application/json"))))
                .isNull();
        assertThat(t.match("PUT", "h", "/", headers(Map.of("content-type", "text/plain"))))
                .isNull();
        assertThat(t.match("PUT", "h", "/", NONE)).isNull();
    }

    @Test
    void noMatchGivesNull() {
        var t = table(
                Route.builder("api").host("api.example.com").upstream("api").build());
        assertThat(t.match("GET", "api.example.com.evil", "/", NONE)).isNull();
        assertThat(RoutingTable.empty().match("GET", "x", "/", NONE)).isNull();
    }

    @Test
    void aRouteToAnUnknownUpstreamIsRejectedNamingTheKnownOnes() {
        assertThatThrownBy(() -> RoutingTable.builder()
                        .upstream(APP)
                        .route(Route.builder("r").upstream("nope").build())
                        .build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("route 'r' upstream: 'nope' (expected one of: app)");
    }

    @Test
    void duplicateNamesAreRejected() {
        assertThatThrownBy(() -> RoutingTable.builder().upstream(APP).upstream(APP))
                .hasMessageContaining("upstream 'app': defined twice");
        assertThatThrownBy(() -> table(
                        Route.builder("r").upstream("app").build(),
                        Route.builder("r").upstream("app").build()))
                .hasMessageContaining("route 'r': defined twice");
    }

    @Test
    void badMatchValuesAreRejectedWithTheValue() {
        assertThatThrownBy(() ->
                        Route.builder("r").pathPrefix("api").upstream("app").build())
                .hasMessage("match pathPrefix: 'api' (expected: a path starting with /)");
        assertThatThrownBy(
                        () -> Route.builder("r").host("a.*.com").upstream("app").build())
                .hasMessageContaining("match host: 'a.*.com'");
        assertThatThrownBy(() -> Route.builder("r")
                        .upstream("app")
                        .rewriteHost("x")
                        .hostFromEndpoint()
                        .build())
                .hasMessageContaining("expected: at most one");
    }
}
