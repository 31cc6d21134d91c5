package dev.torii.internal.tcp;

import dev.torii.internal.Engine;
import dev.torii.internal.upstream.UpstreamCounters;
import dev.torii.internal.upstream.UpstreamState;
import dev.torii.proxyprotocol.ProxyProtocolVersion;
import dev.torii.upstream.Endpoint;
import dev.torii.upstream.Upstream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the backend connection of one proxied TCP connection: picks an endpoint of the connection's upstream (or takes
 * the one a CONNECT hook chose), resolves its name, builds, registers and connects the channel on the client's event
 * loop, and tries one other endpoint if the connect fails. A connected backend gets the PROXY protocol header first
 * when the listener sends one. Then {@link Connected#backendConnected} hands it to the relay; when no endpoint can be
 * reached the client is closed.
 *
 * <p>The channel is built, registered and connected here rather than by a {@code Bootstrap}: a {@code Bootstrap} per
 * connection copies its option map, looks up an address resolver (under a lock) and connects from a task it queues on
 * the loop; here the address is resolved already and this code runs on the loop that will own the channel.
 *
 * <p>Confined to the client channel's event loop.
 */
final class BackendConnector {
    private static final Logger log = LoggerFactory.getLogger(BackendConnector.class);

    /** For an endpoint chosen by a hook when the connection's upstream is gone from the routing table. */
    private static final long DEFAULT_CONNECT_TIMEOUT_MILLIS = 5000;

    /** Told when the backend is connected (and its PROXY header, if any, written). */
    interface Connected {
        /** {@code backend} is connected to {@code address}; called on the client's event loop. */
        void backendConnected(Channel backend, InetSocketAddress address);
    }

    private final Engine engine;
    private final DefaultConnection conn;
    private final Channel client;
    private final ProxyProtocolVersion sendProxyProtocol;
    private final Supplier<ChannelHandler> backendHandler;
    private final Connected connected;
    private UpstreamState upstreamState;
    private int endpointIndex = -1;
    private boolean retried;
    private Channel backend;

    /**
     * A connector for {@code conn}, whose client channel is {@code client}: each backend channel it opens gets a new
     * {@code backendHandler}, and the header of {@code sendProxyProtocol} ({@code null}: none) once connected.
     */
    BackendConnector(
            Engine engine,
            DefaultConnection conn,
            Channel client,
            ProxyProtocolVersion sendProxyProtocol,
            Supplier<ChannelHandler> backendHandler,
            Connected connected) {
        this.engine = engine;
        this.conn = conn;
        this.client = client;
        this.sendProxyProtocol = sendProxyProtocol;
        this.backendHandler = backendHandler;
        this.connected = connected;
    }

    /**
     * The backend channel being connected or connected, or {@code null} before the first connect and between a
     * failed one and the retry.
     */
    Channel channel() {
        return backend;
    }

    /** Connects to the connection's endpoint, or picks one of its upstream. */
    void connect() {
        connect(-1);
    }

    /** The connection closed: the endpoint in use, if any, is told it has one connection fewer. */
    void endpointDone() {
        if (endpointIndex >= 0) {
            upstreamState.finished(endpointIndex);
            endpointIndex = -1;
        }
    }

    private void connect(int exclude) {
        if (!client.isActive()) {
            return;
        }
        Engine.Snapshot snapshot = engine.snapshot();
        upstreamState = snapshot.upstream(conn.upstreamName);
        Endpoint endpoint = conn.endpointOverride;
        InetSocketAddress literal = null;
        if (endpoint == null) {
            if (upstreamState == null) {
                log.warn("{}: upstream '{}' is not in the routing table; closing", conn, conn.upstreamName);
                client.close();
                return;
            }
            endpointIndex = upstreamState.pick(exclude);
            if (endpointIndex < 0) {
                log.debug("{}: upstream '{}' has no endpoint to try; closing", conn, conn.upstreamName);
                client.close();
                return;
            }
            endpoint = upstreamState.endpoint(endpointIndex);
            upstreamState.started(endpointIndex);
            literal = upstreamState.literalAddress(endpointIndex);
        }
        Endpoint target = endpoint;
        if (literal != null) {
            connect(target, literal);
            return;
        }
        engine.resolver().resolve(target, client.eventLoop()).addListener(f -> {
            if (!client.isActive()) {
                return;
            }
            if (!f.isSuccess()) {
                log.debug(
                        "{}: cannot resolve {}: {}",
                        conn,
                        target.host(),
                        f.cause().toString());
                client.close();
                return;
            }
            connect(target, (InetSocketAddress) f.getNow());
        });
    }

    private void connect(Endpoint endpoint, InetSocketAddress address) {
        Upstream settings = upstreamState != null ? upstreamState.upstream : null;
        long timeoutMillis = settings != null ? settings.connectTimeout().toMillis() : DEFAULT_CONNECT_TIMEOUT_MILLIS;
        // TCP_NODELAY is on already (see Transport#newSocketChannel): setting it again would be one more system call.
        Channel ch = engine.tcpTransport().newSocketChannel(address);
        ChannelConfig config = ch.config();
        config.setAutoRead(false);
        config.setConnectTimeoutMillis((int) Math.min(Integer.MAX_VALUE, timeoutMillis));
        config.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        ch.pipeline().addLast(backendHandler.get());
        backend = ch;
        client.eventLoop().register(ch).addListener(registered -> {
            if (!registered.isSuccess()) {
                ch.unsafe().closeForcibly();
                connectDone(ch, registered.cause(), endpoint, address);
                return;
            }
            ch.connect(address).addListener(done -> connectDone(ch, done.cause(), endpoint, address));
        });
    }

    /** After the backend connect: {@code failure} is {@code null} when it succeeded. */
    private void connectDone(Channel ch, Throwable failure, Endpoint endpoint, InetSocketAddress address) {
        if (!client.isActive()) {
            ch.close();
            return;
        }
        if (failure == null) {
            // Counted like the HTTP pools': opened when the connect succeeded, failed apart (by reason).
            engine.upstreamConnectionOpened();
            if (upstreamState != null) {
                engine.upstreamCounters().connected(upstreamState.upstream.name());
            }
            if (sendProxyProtocol != null) {
                sendProxyHeader(ch, sendProxyProtocol);
            }
            connected.backendConnected(ch, address);
            return;
        }
        engine.upstreamConnectFailed();
        if (upstreamState != null) {
            engine.upstreamCounters().connectFailed(upstreamState.upstream.name(), UpstreamCounters.reasonOf(failure));
        }
        endpointDone();
        backend = null;
        boolean another = conn.endpointOverride == null && upstreamState.size() > 1;
        if (!retried && another) {
            retried = true;
            log.debug("{}: connect to {} failed ({}); trying another endpoint", conn, endpoint, failure.toString());
            connect(endpointIndex);
            return;
        }
        log.debug("{}: connect to {} failed: {}; closing", conn, endpoint, failure.toString());
        client.close();
    }

    /** Tells the backend who the client is, before any of the client's bytes. */
    private void sendProxyHeader(Channel backend, ProxyProtocolVersion version) {
        InetSocketAddress src = conn.clientAddress();
        InetSocketAddress dst = conn.localAddress();
        boolean v6 = src.getAddress() instanceof Inet6Address;
        String dstIp = dst.getAddress() instanceof Inet6Address == v6
                ? dst.getAddress().getHostAddress()
                : v6 ? "::" : "0.0.0.0"; // both addresses must be of one family
        var header = new HAProxyMessage(
                version == ProxyProtocolVersion.V1 ? HAProxyProtocolVersion.V1 : HAProxyProtocolVersion.V2,
                HAProxyCommand.PROXY,
                v6 ? HAProxyProxiedProtocol.TCP6 : HAProxyProxiedProtocol.TCP4,
                src.getAddress().getHostAddress(),
                dstIp,
                src.getPort(),
                dst.getPort());
        backend.pipeline().addFirst("proxy-protocol-encoder", HAProxyMessageEncoder.INSTANCE);
        backend.writeAndFlush(header, backend.voidPromise());
        backend.pipeline().remove("proxy-protocol-encoder");
    }
}
