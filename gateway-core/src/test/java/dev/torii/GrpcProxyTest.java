package dev.torii;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.torii.route.Route;
import dev.torii.route.RoutingTable;
import dev.torii.testing.TestCertificates;
import dev.torii.tls.CertificateFiles;
import dev.torii.tls.ServerTls;
import dev.torii.upstream.Upstream;
import dev.torii.upstream.UpstreamProtocol;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * gRPC through the gateway with grpc-java on both ends (its own Netty, shaded): unary, client-streaming,
 * server-streaming and bidirectional calls, error statuses and custom trailers, over h2c and over TLS h2 to an h2c
 * upstream. gRPC needs HTTP/2 end to end with trailers and {@code te: trailers}, so this is the proof that the
 * translation keeps them.
 */
class GrpcProxyTest {
    private static final MethodDescriptor.Marshaller<String> UTF8 = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(String value) {
            return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private static MethodDescriptor<String, String> method(String name, MethodDescriptor.MethodType type) {
        return MethodDescriptor.<String, String>newBuilder()
                .setType(type)
                .setFullMethodName(MethodDescriptor.generateFullMethodName("torii.test.Echo", name))
                .setRequestMarshaller(UTF8)
                .setResponseMarshaller(UTF8)
                .build();
    }

    private static final MethodDescriptor<String, String> UNARY = method("Unary", MethodDescriptor.MethodType.UNARY);
    private static final MethodDescriptor<String, String> FAIL = method("Fail", MethodDescriptor.MethodType.UNARY);
    private static final MethodDescriptor<String, String> COLLECT =
            method("Collect", MethodDescriptor.MethodType.CLIENT_STREAMING);
    private static final MethodDescriptor<String, String> COUNT =
            method("Count", MethodDescriptor.MethodType.SERVER_STREAMING);
    private static final MethodDescriptor<String, String> SHOUT =
            method("Shout", MethodDescriptor.MethodType.BIDI_STREAMING);
    private static final Metadata.Key<String> DETAIL = Metadata.Key.of("x-detail", Metadata.ASCII_STRING_MARSHALLER);

    private static Server grpc;
    private static Gateway gateway;
    private static TestCertificates certs;

    @BeforeAll
    static void start() throws IOException {
        ServerServiceDefinition echo = ServerServiceDefinition.builder("torii.test.Echo")
                .addMethod(UNARY, ServerCalls.asyncUnaryCall((req, out) -> {
                    out.onNext("echo:" + req);
                    out.onCompleted();
                }))
                .addMethod(FAIL, ServerCalls.asyncUnaryCall((req, out) -> {
                    Metadata trailers = new Metadata();
                    trailers.put(DETAIL, "because " + req);
                    out.onError(Status.NOT_FOUND
                            .withDescription("no such thing: " + req)
                            .asRuntimeException(trailers));
                }))
                .addMethod(COLLECT, ServerCalls.asyncClientStreamingCall(out -> new StreamObserver<>() {
                    private final List<String> got = new ArrayList<>();

                    @Override
                    public void onNext(String value) {
                        got.add(value.length() > 32 ? "len" + value.length() : value);
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {
                        out.onNext(String.join(",", got));
                        out.onCompleted();
                    }
                }))
                .addMethod(COUNT, ServerCalls.asyncServerStreamingCall((req, out) -> {
                    for (int i = 1; i <= 5; i++) {
                        out.onNext(req + "-" + i);
                    }
                    out.onCompleted();
                }))
                .addMethod(SHOUT, ServerCalls.asyncBidiStreamingCall(out -> new StreamObserver<>() {
                    @Override
                    public void onNext(String value) {
                        out.onNext(value.length() > 32 ? "LEN" + value.length() : value.toUpperCase());
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {
                        out.onCompleted();
                    }
                }))
                .build();
        grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(echo)
                .maxInboundMessageSize(8 * 1024 * 1024)
                .build()
                .start();
        certs = TestCertificates.create();
        TestCertificates.Issued site = certs.issue("grpc.test");
        gateway = Gateway.builder()
                .listener(Listener.http("web", "127.0.0.1:0"))
                .listener(Listener.https(
                        "secure", "127.0.0.1:0", ServerTls.of(CertificateFiles.of(site.cert(), site.key()))))
                .routingTable(RoutingTable.builder()
                        .upstream(Upstream.builder("grpc")
                                .endpoint("127.0.0.1:" + grpc.getPort())
                                .protocol(UpstreamProtocol.H2C)
                                .build())
                        .route(Route.builder("all").upstream("grpc").build())
                        .build())
                .ioThreads(1)
                .build()
                .start();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (gateway != null) {
            gateway.close();
        }
        if (grpc != null) {
            grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (certs != null) {
            certs.close();
        }
    }

    private static ManagedChannel clearText() {
        return NettyChannelBuilder.forAddress(
                        "127.0.0.1", gateway.address("web").getPort())
                .usePlaintext()
                .maxInboundMessageSize(8 * 1024 * 1024)
                .build();
    }

    private static ManagedChannel overTls() throws IOException {
        return NettyChannelBuilder.forAddress(
                        "127.0.0.1", gateway.address("secure").getPort())
                .overrideAuthority("grpc.test")
                .sslContext(GrpcSslContexts.forClient()
                        .trustManager(certs.caCert().toFile())
                        .build())
                .maxInboundMessageSize(8 * 1024 * 1024)
                .build();
    }

    private static void allFourKinds(ManagedChannel ch) throws Exception {
        CallOptions opts = CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS);
        // Unary.
        assertThat(ClientCalls.blockingUnaryCall(ch, UNARY, opts, "hi")).isEqualTo("echo:hi");

        // Server streaming.
        Iterator<String> counted = ClientCalls.blockingServerStreamingCall(ch, COUNT, opts, "n");
        List<String> got = new ArrayList<>();
        counted.forEachRemaining(got::add);
        assertThat(got).containsExactly("n-1", "n-2", "n-3", "n-4", "n-5");

        // Client streaming, with one 1 MiB message among small ones.
        CompletableFuture<String> collected = new CompletableFuture<>();
        StreamObserver<String> up =
                ClientCalls.asyncClientStreamingCall(ch.newCall(COLLECT, opts), observer(collected, null));
        up.onNext("a");
        up.onNext("x".repeat(1024 * 1024));
        up.onNext("b");
        up.onCompleted();
        assertThat(collected.get(20, TimeUnit.SECONDS)).isEqualTo("a,len1048576,b");

        // Bidirectional: replies arrive while the client is still sending.
        List<String> replies = new CopyOnWriteArrayList<>();
        CompletableFuture<String> done = new CompletableFuture<>();
        StreamObserver<String> both =
                ClientCalls.asyncBidiStreamingCall(ch.newCall(SHOUT, opts), observer(done, replies));
        both.onNext("one");
        both.onNext("y".repeat(1024 * 1024));
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (replies.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(replies).as("replies before the client half-closed").containsExactly("ONE", "LEN1048576");
        both.onNext("two");
        both.onCompleted();
        done.get(20, TimeUnit.SECONDS);
        assertThat(replies).containsExactly("ONE", "LEN1048576", "TWO");

        // An error status with its message and a custom trailer, intact.
        StatusRuntimeException e = catchThrowableOfType(
                StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(ch, FAIL, opts, "x"));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(e.getStatus().getDescription()).isEqualTo("no such thing: x");
        assertThat(e.getTrailers().get(DETAIL)).isEqualTo("because x");
    }

    private static StreamObserver<String> observer(CompletableFuture<String> done, List<String> collect) {
        return new StreamObserver<>() {
            private String last;

            @Override
            public void onNext(String value) {
                last = value;
                if (collect != null) {
                    collect.add(value);
                }
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.complete(last);
            }
        };
    }

    @Test
    void allFourCallKindsOverH2c() throws Exception {
        ManagedChannel ch = clearText();
        try {
            allFourKinds(ch);
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void allFourCallKindsOverTlsH2ToAnH2cUpstream() throws Exception {
        ManagedChannel ch = overTls();
        try {
            allFourKinds(ch);
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
