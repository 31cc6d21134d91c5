package dev.torii.examples;

import dev.torii.Exchange;
import dev.torii.Gateway;
import dev.torii.Hook;
import dev.torii.HookResult;
import dev.torii.Listener;
import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.upstream.LoadBalancing;
import dev.torii.upstream.Upstream;

/**
 * Torii embedded in a Java application: a gateway on a port in front of an upstream, with one Java hook. The README
 * shows the region between the {@code readme} markers; a test keeps the two identical and runs this class.
 */
public final class EmbeddedGateway {
    private EmbeddedGateway() {}

    /** Starts a gateway on {@code listen} (e.g. {@code 127.0.0.1:8080}) in front of {@code backend}. */
    public static Gateway start(String listen, String backend) {
        // readme:start
        Hook servedBy = new Hook() {
            @Override
            public HookResult onRequest(Exchange ex) {
                if (ex.request().path().startsWith("/admin")) {
                    return HookResult.respond(404, "not here\n");
                }
                return HookResult.proceed();
            }

            @Override
            public HookResult onResponse(Exchange ex) {
                ex.response().headers().set("x-served-by", "torii");
                return HookResult.proceed();
            }
        };
        RoutingTable routes = RoutingTable.builder()
                .upstream(Upstream.builder("app")
                        .endpoint(backend)
                        .loadBalancing(LoadBalancing.LEAST_IN_FLIGHT)
                        .build())
                .route(Route.builder("everything")
                        .pathPrefix("/")
                        .upstream("app")
                        .build())
                .build();
        Gateway gateway = Gateway.builder()
                .listener(Listener.http("web", listen))
                .routingTable(routes)
                .hook(servedBy)
                .build()
                .start();
        // readme:end
        return gateway;
    }

    /** {@code java dev.torii.examples.EmbeddedGateway 127.0.0.1:8080 127.0.0.1:9000} runs until interrupted. */
    public static void main(String[] args) throws InterruptedException {
        Gateway gateway =
                start(args.length > 0 ? args[0] : "127.0.0.1:8080", args.length > 1 ? args[1] : "127.0.0.1:9000");
        Runtime.getRuntime().addShutdownHook(new Thread(gateway::close));
        Thread.currentThread().join();
    }
}
