package dev.torii.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.Upstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    private static final String MINIMAL_LISTENERS = """
            listeners:
              - { name: web, protocol: http, address: "127.0.0.1:8080" }
            """;

    @Test
    void aCompleteConfigurationBuildsEveryPart() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners:
                  - { name: web, protocol: http, address: "127.0.0.1:8080" }
                  - name: admin
                    address: "[::1]:0"
                routes:
                  - name: api
                    match:
                      host: "*.example.com"
                      pathPrefix: /api
                      methods: [ GET, post ]
                      headers: { X-Version: 2 }
                    upstream: app
                    hostRewrite: app.internal
                  - match: { pathPrefix: / }
                    upstream: demo
                    hostFromEndpoint: true
                upstreams:
                  app:
                    endpoints: [ "10.0.0.1:9001", "app.internal:8080", "[::1]:9002" ]
                    loadBalancer: least-in-flight
                    connectTimeout: 500ms
                    responseTimeout: 2m
                    maxConnectionsPerEndpoint: 64
                    maxIdlePerEndpoint: 8
                    idleTimeout: 1h
                    maxPendingAcquires: 0
                  demo: { endpoints: [ "127.0.0.1:9000" ] }
                limits:
                  maxRequestLineLength: 4k
                  maxHeaderSize: 16k
                  maxRequestBodySize: 1m
                  headerReadTimeout: 5s
                  idleTimeout: 30s
                  maxConnections: 100
                  shutdownTimeout: 0s
                forwarding: { via: false, viaName: edge, xForwarded: true, trustedProxies: [ 10.0.0.0/8, "::1/128" ] }
                ioThreads: 3
                demo: { echo: "127.0.0.1:9000" }
                """);

        assertThat(c.listeners())
                .containsExactly(
                        new Listener("web", Listener.Protocol.HTTP, "127.0.0.1", 8080),
                        new Listener("admin", Listener.Protocol.HTTP, "::1", 0));

        List<Route> routes = c.routingTable().routes();
        assertThat(routes).hasSize(2);
        Route api = routes.get(0);
        assertThat(api.name()).isEqualTo("api");
        assertThat(api.match().host()).isEqualTo("*.example.com");
        assertThat(api.match().pathPrefix()).isEqualTo("/api");
        assertThat(api.match().methods()).isEqualTo(Set.of("GET", "POST"));
        assertThat(api.match().headers()).isEqualTo(Map.of("x-version", "2"));
        assertThat(api.upstream()).isEqualTo("app");
        assertThat(api.hostRewrite()).isEqualTo("app.internal");
        assertThat(api.hostFromEndpoint()).isFalse();
        Route fallback = routes.get(1);
        assertThat(fallback.name()).isEqualTo("route-1");
        assertThat(fallback.match().host()).isNull();
        assertThat(fallback.hostFromEndpoint()).isTrue();

        Upstream app = c.routingTable().upstream("app");
        assertThat(app.endpoints())
                .containsExactly(
                        new Endpoint("10.0.0.1", 9001), new Endpoint("app.internal", 8080), new Endpoint("::1", 9002));
        assertThat(app.loadBalancing()).isEqualTo(LoadBalancing.LEAST_IN_FLIGHT);
        assertThat(app.connectTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(app.responseTimeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(app.maxConnectionsPerEndpoint()).isEqualTo(64);
        assertThat(app.maxIdlePerEndpoint()).isEqualTo(8);
        assertThat(app.idleTimeout()).isEqualTo(Duration.ofHours(1));
        assertThat(app.maxPendingAcquires()).isZero();
        assertThat(c.routingTable().upstream("demo").loadBalancing()).isEqualTo(LoadBalancing.ROUND_ROBIN);

        assertThat(c.limits().maxRequestLineLength()).isEqualTo(4096);
        assertThat(c.limits().maxHeaderSize()).isEqualTo(16384);
        assertThat(c.limits().maxRequestBodySize()).isEqualTo(1 << 20);
        assertThat(c.limits().headerReadTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.limits().idleTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.limits().maxConnections()).isEqualTo(100);
        assertThat(c.limits().shutdownTimeout()).isZero();

        assertThat(c.forwarding().via()).isFalse();
        assertThat(c.forwarding().viaName()).isEqualTo("edge");
        assertThat(c.forwarding().xForwarded()).isTrue();
        assertThat(c.forwarding().trustedProxies()).containsExactly("10.0.0.0/8", "::1/128");
        assertThat(c.ioThreads()).isEqualTo(3);
        assertThat(c.demoEcho()).contains(new Endpoint("127.0.0.1", 9000));
        assertThat(c.gatewayBuilder()).isNotNull();
    }

    @Test
    void leftOutSectionsTakeTheEngineDefaults() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", MINIMAL_LISTENERS);

        assertThat(c.routingTable().routes()).isEmpty();
        assertThat(c.limits()).isEqualTo(dev.torii.Limits.defaults());
        assertThat(c.forwarding()).isEqualTo(dev.torii.Forwarding.defaults());
        assertThat(c.ioThreads()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(c.demoEcho()).isEmpty();
    }

    @Test
    void protocolDefaultsToHttpAndBodySizeCanBeUnlimited() throws Exception {
        ServerConfig c = ConfigLoader.parse("torii.yaml", """
                listeners: [ { name: web, address: "localhost:0" } ]
                limits: { maxRequestBodySize: 1k }
                """);
        assertThat(c.listeners().getFirst().protocol()).isEqualTo(Listener.Protocol.HTTP);
        assertThat(c.limits().maxRequestBodySize()).isEqualTo(1024);

        ServerConfig unlimited =
                ConfigLoader.parse("torii.yaml", MINIMAL_LISTENERS + "limits: { maxRequestBodySize: unlimited }\n");
        assertThat(unlimited.limits().maxRequestBodySize()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void everyErrorInAFileIsReportedInFileOrder() {
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8080" }
                        routes:
                          - match: { pathPrefix: api }
                            upstream: app
                        upstreams:
                          app:
                            endpoints: [ "127.0.0.1:9001" ]
                            loadBalancer: fastest
                            maxIdlePerEndpoint: -1
                        limits:
                          maxConnections: 0
                          maxHeaderSize: 3g
                        ioThreads: many
                        """))
                .containsExactly(
                        "torii.yaml:4:26: routes[0].match.pathPrefix: 'api' (expected: a path starting with /)",
                        "torii.yaml:9:19: upstreams.app.loadBalancer: 'fastest' (expected one of: round-robin,"
                                + " least-in-flight)",
                        "torii.yaml:10:25: upstreams.app.maxIdlePerEndpoint: -1 (expected: >= 0)",
                        "torii.yaml:12:19: limits.maxConnections: 0 (expected: > 0)",
                        "torii.yaml:13:18: limits.maxHeaderSize: 3g (expected: at most 2147483647)",
                        "torii.yaml:14:12: ioThreads: 'many' (expected: an integer)");
    }

    @Test
    void anUnknownKeyIsAnErrorWithTheClosestKnownKey() {
        assertThat(errors(MINIMAL_LISTENERS + """
                                limits:
                                  idleTimout: 10s
                                upstream:
                                  app: { endpoints: [ "127.0.0.1:1" ] }
                                colour: blue
                                """))
                .containsExactly(
                        "torii.yaml:4:3: limits: unknown key 'idleTimout' (did you mean 'idleTimeout'?)",
                        "torii.yaml:5:1: configuration: unknown key 'upstream' (did you mean 'upstreams'?)",
                        "torii.yaml:7:1: configuration: unknown key 'colour' (expected one of: rateLimits, rateLimit,"
                                + " redis, listeners, routes, upstreams, limits, forwarding, ioThreads, demo,"
                                + " plugins, dns, admin, maintenance, reload, accessLog, tracing, access)");
    }

    @Test
    void aBadDurationNamesTheValueAndTheExpectedForm() {
        assertThat(errors(MINIMAL_LISTENERS + """
                                upstreams:
                                  app: { endpoints: [ "127.0.0.1:1" ], connectTimeout: 5, idleTimeout: 0s, responseTimeout: 1 minute }
                                limits: { headerReadTimeout: fast, shutdownTimeout: [ 1s ] }
                                """))
                .containsExactly(
                        "torii.yaml:4:56: upstreams.app.connectTimeout: 5 (expected: a duration like 500ms, 10s, 5m"
                                + " or 1h)",
                        "torii.yaml:4:72: upstreams.app.idleTimeout: 0s (expected: > 0)",
                        "torii.yaml:4:93: upstreams.app.responseTimeout: '1 minute' (expected: a duration like"
                                + " 500ms, 10s, 5m or 1h)",
                        "torii.yaml:5:30: limits.headerReadTimeout: 'fast' (expected: a duration like 500ms, 10s,"
                                + " 5m or 1h)",
                        "torii.yaml:5:53: limits.shutdownTimeout: a list (expected: a duration like 500ms, 10s, 5m"
                                + " or 1h)");
    }

    @Test
    void badEndpointsAreReportedOneByOne() {
        assertThat(errors(MINIMAL_LISTENERS + """
                                upstreams:
                                  app:
                                    endpoints:
                                      - "127.0.0.1"
                                      - 127.0.0.1:70000
                                      - "[::1:80"
                                      - app.internal:http
                                  empty: { endpoints: [] }
                                  none: {}
                                """))
                .containsExactly(
                        "torii.yaml:6:9: upstreams.app.endpoints[0]: '127.0.0.1' (expected: host:port)",
                        "torii.yaml:7:9: upstreams.app.endpoints[1]: port 70000 (expected: 1-65535)",
                        "torii.yaml:8:9: upstreams.app.endpoints[2]: '[::1:80' (expected: [ipv6]:port)",
                        "torii.yaml:9:9: upstreams.app.endpoints[3]: 'app.internal:http' (expected: host:port with a"
                                + " numeric port)",
                        "torii.yaml:10:23: upstreams.empty.endpoints: [] (expected: at least one host:port)",
                        "torii.yaml:11:9: upstreams.none: missing key 'endpoints' (expected: a list of host:port)");
    }

    @Test
    void aRouteToAnUnknownUpstreamListsTheKnownOnes() {
        assertThat(errors(MINIMAL_LISTENERS + """
                                routes:
                                  - { match: { pathPrefix: / }, upstream: ap }
                                  - { upstream: app }
                                upstreams:
                                  app: { endpoints: [ "127.0.0.1:1" ] }
                                  web: { endpoints: [ "127.0.0.1:2" ] }
                                """))
                .containsExactly("torii.yaml:4:43: routes[0].upstream: 'ap' (expected one of: app, web)");
    }

    @Test
    void aRouteWithoutUpstreamsDefinedSaysNoneIs() {
        assertThat(errors(MINIMAL_LISTENERS + "routes: [ { upstream: app } ]\n"))
                .containsExactly("torii.yaml:3:23: routes[0].upstream: 'app' (expected: an upstream defined under"
                        + " upstreams; none is)");
    }

    @Test
    void listenerNamesAndAddressesMustBeUnique() {
        assertThat(errors("""
                        listeners:
                          - { name: web, address: "127.0.0.1:8080" }
                          - { name: web, address: "127.0.0.1:8081" }
                          - { name: other, address: "127.0.0.1:8080" }
                          - { name: any1, address: "127.0.0.1:0" }
                          - { name: any2, address: "127.0.0.1:0" }
                        """))
                .containsExactly(
                        "torii.yaml:3:13: listeners[1].name: 'web' (expected: unique; listeners[0] has it already)",
                        "torii.yaml:4:29: listeners[2].address: '127.0.0.1:8080' (expected: unique; listeners[0]"
                                + " listens there already)");
    }

    @Test
    void listenersAreRequired() {
        assertThat(errors("ioThreads: 1\n"))
                .containsExactly("torii.yaml:1:1: missing key 'listeners' (expected: at least one listener)");
        assertThat(errors("listeners: []\n"))
                .containsExactly("torii.yaml:1:12: listeners: [] (expected: at least one listener)");
        assertThat(errors("listeners: { name: web }\n"))
                .containsExactly("torii.yaml:1:12: listeners: a mapping (expected: a list)");
    }

    @Test
    void featuresOfLaterReleasesSayTheyAreNotSupportedYet() {
        assertThat(errors("""
                        listeners:
                          - { name: web, protocol: http, address: "127.0.0.1:8080" }
                          - { name: odd, protocol: gopher, address: "127.0.0.1:70" }
                        routes:
                          - upstream: app
                        upstreams: { app: { endpoints: [ "127.0.0.1:1" ] } }
                        """))
                .containsExactly(
                        "torii.yaml:3:28: listeners[1].protocol: 'gopher' (expected one of: http, https, tcp, dns)");
    }

    @Test
    void tlsAndHttp2SettingsAreCheckedWithTheirPositions(@TempDir Path dir) throws Exception {
        Path cert = Files.writeString(dir.resolve("not-a-cert.pem"), "hello\n");
        assertThat(errors("""
                        listeners:
                          - { name: a, protocol: https, address: "127.0.0.1:8443" }
                          - { name: b, protocol: http, address: "127.0.0.1:8080", tls: { certificates: [] } }
                          - name: c
                            protocol: https
                            address: "127.0.0.1:8444"
                            tls:
                              certificates:
                                - { cert: missing.pem, key: missing.key }
                                - { cert: "%s", key: "%s", names: [ "bad name" ] }
                              protocols: [ TLSv1.1 ]
                        routes: [ { upstream: app } ]
                        upstreams: { app: { endpoints: [ "127.0.0.1:1" ] } }
                        limits:
                          http2: { maxConcurrentStreams: 0, maxFrameSize: 1k, floodWindow: soon }
                        """.formatted(cert, cert)))
                .containsExactly(
                        "torii.yaml:2:5: listeners[0]: missing key 'tls' (expected: tls: { certificates: [ { cert, key }"
                                + " ] })",
                        "torii.yaml:3:64: listeners[1].tls: only for protocol https (this listener is http)",
                        "torii.yaml:9:19: listeners[2].tls.certificates[0].cert: 'missing.pem' (expected: a PEM"
                                + " certificate chain; missing.pem is not a readable file)",
                        "torii.yaml:9:37: listeners[2].tls.certificates[0].key: 'missing.key' (expected: a PEM private"
                                + " key; missing.key is not a readable file)",
                        "torii.yaml:10:19: listeners[2].tls.certificates[1].cert: '" + cert
                                + "' (expected: a PEM certificate chain; No certificate data found)",
                        "torii.yaml:10:%d: listeners[2].tls.certificates[1].names[0]: 'bad name' (expected: a host name"
                                        .formatted(cert.toString().length() * 2 + 41)
                                + " like example.com or *.example.com)",
                        "torii.yaml:11:20: listeners[2].tls.protocols[0]: 'TLSv1.1' (expected: TLSv1.2 or TLSv1.3)",
                        "torii.yaml:15:34: limits.http2.maxConcurrentStreams: 0 (expected: > 0)",
                        "torii.yaml:15:51: limits.http2.maxFrameSize: 1k (expected: >= 16384)",
                        "torii.yaml:15:68: limits.http2.floodWindow: 'soon' (expected: a duration like 500ms, 10s, 5m"
                                + " or 1h)");
    }

    @Test
    void dnsSettingsAreCheckedWithTheirPositions() {
        assertThat(errors(MINIMAL_LISTENERS + """
                        dns:
                          upstreams: [ "10.96.0.10:53", "kube-dns:53" ]
                          minTtl: 10m
                          maxTtl: 5m
                          forceTcp: maybe
                        """))
                .containsExactly(
                        "torii.yaml:4:33: dns.upstreams[1]: kube-dns:53 (expected: an IP address with an optional port,"
                                + " like 10.96.0.10:53 or [fd00::a]:53)",
                        "torii.yaml:7:13: dns.forceTcp: 'maybe' (expected: true or false)");
        assertThat(errors(MINIMAL_LISTENERS + """
                        dns: { upstreams: [ "10.96.0.10:53" ], minTtl: 10m, maxTtl: 5m }
                        """))
                .hasSize(1)
                .first(org.assertj.core.api.InstanceOfAssertFactories.STRING)
                .startsWith("torii.yaml:3:")
                .contains("maxTtl")
                .contains("expected");
        assertThat(errors(MINIMAL_LISTENERS + "dns: { forceTcp: true }\n"))
                .containsExactly("torii.yaml:3:6: dns.upstreams: missing (expected: DNS servers as IP:port, e.g."
                        + " [ \"10.96.0.10:53\" ])");
    }

    @Test
    void routeSettingsAreCheckedOneByOne() {
        assertThat(errors(MINIMAL_LISTENERS + """
                                routes:
                                  - name: a
                                    match: { host: "a*.example.com", methods: [ GET, "NOT A METHOD" ], headers: { "bad header": x } }
                                    upstream: app
                                    hostRewrite: app.internal
                                    hostFromEndpoint: true
                                  - { name: a, upstream: app, hostFromEndpoint: yes }
                                upstreams: { app: { endpoints: [ "127.0.0.1:1" ] } }
                                """))
                .containsExactly(
                        "torii.yaml:5:20: routes[0].match.host: 'a*.example.com' (expected: a host name or a"
                                + " wildcard like *.example.com)",
                        "torii.yaml:5:54: routes[0].match.methods[1]: 'NOT A METHOD' (expected: an HTTP method like"
                                + " GET)",
                        "torii.yaml:5:83: routes[0].match.headers: 'bad header' (expected: a header name like"
                                + " x-api-version)",
                        "torii.yaml:8:23: routes[0].hostFromEndpoint: true (expected: false or absent when"
                                + " hostRewrite is set; a route sets Host one way)",
                        "torii.yaml:9:13: routes[1].name: 'a' (expected: unique; routes[0] has it already)",
                        "torii.yaml:9:49: routes[1].hostFromEndpoint: 'yes' (expected: true or false)");
    }

    @Test
    void duplicateKeysPointAtTheSecondOne() {
        assertThat(errors(MINIMAL_LISTENERS + """
                                limits:
                                  idleTimeout: 10s
                                  idleTimeout: 20s
                                """))
                .containsExactly("torii.yaml:5:3: limits: duplicate key 'idleTimeout' (first at line 4)");
    }

    @Test
    void forwardingAndDemoSettingsAreValidated() {
        assertThat(errors(MINIMAL_LISTENERS + """
                                forwarding: { viaName: "my proxy", trustedProxies: [ 10.0.0.0/33, 10.0.0.0/8 ] }
                                demo: { echo: "127.0.0.1:8080" }
                                """))
                .containsExactly(
                        "torii.yaml:3:24: forwarding.viaName: 'my proxy' (expected: a token like torii, no spaces)",
                        "torii.yaml:3:54: forwarding.trustedProxies[0]: '10.0.0.0/33' (expected: a CIDR block like"
                                + " 10.0.0.0/8)",
                        "torii.yaml:4:15: demo.echo: '127.0.0.1:8080' (expected: an address no listener uses;"
                                + " listener 'web' is there)");
        assertThat(errors(MINIMAL_LISTENERS + "demo: { echo: 9000 }\n"))
                .containsExactly("torii.yaml:3:15: demo.echo: '9000' (expected: host:port, e.g. 127.0.0.1:9000)");
    }

    @Test
    void yamlSyntaxErrorsAreLocatedToo() {
        assertThat(errors("listeners: [ { name: web, address: \"127.0.0.1:1\" }\nroutes: []\n"))
                .singleElement()
                .asString()
                .startsWith("torii.yaml:2:1: invalid YAML: ");
        assertThat(errors(""))
                .containsExactly("torii.yaml:1:1: empty configuration (expected: a mapping with"
                        + " listeners, routes and upstreams)");
        assertThat(errors("- just\n- a list\n"))
                .containsExactly("torii.yaml:1:1: configuration: a list (expected: a" + " mapping)");
    }

    @Test
    void loadNamesTheFileAsGiven(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("torii.yaml");
        Files.writeString(file, MINIMAL_LISTENERS + "ioThreads: -2\n");
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(file));
        assertThat(e.errors())
                .containsExactly(new ConfigError(file.toString(), 3, 12, "ioThreads: -2 (expected: > 0)"));
        assertThat(e).hasMessage(file + ":3:12: ioThreads: -2 (expected: > 0)");

        Path missing = dir.resolve("missing.yaml");
        ConfigException none = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(missing));
        assertThat(none.errors())
                .extracting(ConfigError::toString)
                .containsExactly(missing + ": cannot read: no such file");
    }

    @Test
    void theQuickstartExampleIsValid() throws Exception {
        Path quickstart = Path.of("../examples/quickstart/torii.yaml");
        ServerConfig c = ConfigLoader.load(quickstart);
        assertThat(c.listeners()).containsExactly(new Listener("web", Listener.Protocol.HTTP, "127.0.0.1", 8080));
        assertThat(c.routingTable().upstream("demo").endpoints()).containsExactly(new Endpoint("127.0.0.1", 9000));
        assertThat(c.demoEcho()).contains(new Endpoint("127.0.0.1", 9000));
    }

    @Test
    void theCompleteExampleOfTheConfigurationReferenceIsValid() throws Exception {
        String doc = Files.readString(Path.of("../docs/configuration.md"));
        int start = doc.indexOf("```yaml\n") + "```yaml\n".length();
        String example = doc.substring(start, doc.indexOf("```", start));

        ServerConfig c = ConfigLoader.parse("configuration.md", example);
        assertThat(c.routingTable().routes()).extracting(Route::name).containsExactly("api", "route-1");
        assertThat(c.demoEcho()).contains(new Endpoint("127.0.0.1", 9000));
    }

    private static List<String> errors(String yaml) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.parse("torii.yaml", yaml));
        assertThat(e).as("expected the configuration to be refused").isNotNull();
        return e.errors().stream().map(ConfigError::toString).toList();
    }
}
